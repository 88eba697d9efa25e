package io.nnsight.soak;

import io.nnsight.NNsight;
import io.nnsight.nn.Mlp;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A memory soak: runs many traces with saves on the benchmark MLP and reports resident memory and the
 * number of live native objects as it goes. Usage: {@code Soak [traces] [scoped]} (default 100,000).
 *
 * <p>Each trace returns four activations, which the loop drops. By default they belong to the garbage
 * collector, so native memory is freed when the JVM collects them; with {@code scoped}, each trace runs
 * inside the caller's own {@link PointerScope}, which frees them at once.
 */
public final class Soak {
    private Soak() {}

    public static void main(String[] args) {
        String[] words = String.join(" ", args).trim().split("\\s+");
        int traces = words[0].isEmpty() ? 100_000 : Integer.parseInt(words[0]);
        boolean scoped = words.length > 1 && words[1].equals("scoped");
        torch.manual_seed(0);
        NNsight model = NNsight.wrap(new Mlp(64, 12, 10));
        Tensor x = torch.randn(1, 64);
        int report = Math.max(1, traces / 10);
        System.out.printf("%10s %14s %14s %14s%n", "traces", "resident MB", "native objs", "heap MB");
        print(0);
        double checksum = 0;
        for (int i = 1; i <= traces; i++) {
            if (scoped) {
                try (PointerScope scope = new PointerScope()) {
                    checksum += trace(model, x);
                }
            } else {
                checksum += trace(model, x);
            }
            if (i % report == 0) {
                print(i);
            }
        }
        System.out.printf("checksum %.3f%n", checksum);
    }

    private static double trace(NNsight model, Tensor x) {
        List<Tensor> saved = model.trace(x, tr -> {
            List<Tensor> outputs = new ArrayList<>(4);
            for (int layer = 0; layer < 4; layer++) {
                outputs.add(model.get("layers." + layer).output());
            }
            model.get("layers.6").output().mul_(new Scalar(0.5));
            return outputs;
        });
        return saved.get(3).sum().item_double();
    }

    private static void print(int traces) {
        Runtime runtime = Runtime.getRuntime();
        System.out.printf("%10d %14.1f %14d %14.1f%n", traces, Pointer.physicalBytes() / 1e6, Pointer.totalCount(),
                (runtime.totalMemory() - runtime.freeMemory()) / 1e6);
    }
}
