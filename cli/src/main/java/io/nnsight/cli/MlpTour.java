package io.nnsight.cli;

import io.nnsight.Barrier;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.nn.Mlp;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The offline tour of {@code nnsight demo}, on a model the project builds itself (the 12-layer MLP of
 * nnsight's benchmark, with a fixed seed): reading an activation, an ablation, a logit lens, and
 * activation patching between two inputs batched in one forward pass. Needs no download.
 */
final class MlpTour {
    private MlpTour() {}

    /** Runs the tour, printing to {@code out}. */
    static void run(PrintStream out) {
        torch.manual_seed(0);
        NNsight model = NNsight.wrap(new Mlp(64, 12, 10));
        Tensor x = torch.randn(1, 64);
        Tensor other = torch.randn(1, 64);
        out.println("The model (" + model.get("layers").children().size() + " blocks, then a head):");
        for (Envoy block : model.get("layers")) {
            out.println("  " + block.path() + ": " + oneLine(block));
        }
        out.println("  head: " + oneLine(model.get("head")));
        out.println();

        // 1. Read an activation: the body waits until layers.5 has run, then gets the live tensor.
        Tensor hidden = model.trace(x, tr -> model.get("layers.5").output());
        out.printf("layers.5 output: shape %s, norm %.4f%n", shape(hidden), hidden.norm().item_double());

        // 2. Ablate a block in place; the rest of the model runs on the edit.
        Tensor clean = model.trace(x, tr -> model.get("head").output());
        Tensor ablated = model.trace(x, tr -> {
            model.get("layers.10").output().zero_();
            return model.get("head").output();
        });
        out.printf("prediction %d; with layers.10 zeroed: %d (logits moved by %.4f)%n",
                clean.argmax().item_long(), ablated.argmax().item_long(), clean.sub(ablated).norm().item_double());

        // 3. Logit lens: apply the head to every block's output (direct calls are invisible to the trace).
        List<Long> lens = model.trace(x, tr -> {
            List<Long> predictions = new ArrayList<>();
            for (Envoy layer : model.get("layers")) {
                predictions.add(model.get("head").call(layer.output()).argmax().item_long());
            }
            return predictions;
        });
        out.println("logit lens, prediction after each block: " + lens);

        // 4. Activation patching: two inputs in one batched forward; the barrier orders the two invokes.
        Invoke<Tensor> patched = model.trace(tr -> {
            Barrier barrier = tr.barrier(2);
            AtomicReference<Tensor> source = new AtomicReference<>();
            tr.invoke(x, () -> {
                source.set(model.get("layers.8").output().clone());
                barrier.await();
            });
            return tr.invoke(other, () -> {
                barrier.await();
                model.get("layers.8").output().copy_(source.get());
                return model.get("head").output();
            });
        });
        out.printf("other input's prediction with layers.8 patched from the first: %d (the first's was %d)%n",
                patched.get().argmax().item_long(), clean.argmax().item_long());
    }

    /** The module tree of {@code envoy} on one line. */
    private static String oneLine(Envoy envoy) {
        return envoy.toString().strip().replaceAll("\\(\\s+", "(").replaceAll("\\s*\\n\\s*\\)", ")").replaceAll("\\s*\\n\\s*", " ");
    }

    private static String shape(Tensor tensor) {
        StringBuilder text = new StringBuilder("[");
        for (int i = 0; i < tensor.dim(); i++) {
            text.append(i == 0 ? "" : ", ").append(tensor.size(i));
        }
        return text.append(']').toString();
    }
}
