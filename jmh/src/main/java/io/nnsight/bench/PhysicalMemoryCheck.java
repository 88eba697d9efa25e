package io.nnsight.bench;

import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.lm.LanguageModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The measurements behind {@code docs/benchmarks.md}'s section on JavaCPP's physical-memory check: what the check
 * costs (the native objects a forward wraps, each paying one read of {@code /proc/self/statm}, and the time of one
 * read), and what it protects: the resident memory of a loop that leaves 16 MiB tensors to the garbage collector,
 * with the check and without it ({@code -Dorg.bytedeco.javacpp.maxPhysicalBytes=0}), each in a JVM of its own with
 * {@code -Xmx256m}.
 *
 * <pre>
 * java -cp jmh/target/benchmarks.jar io.nnsight.bench.PhysicalMemoryCheck
 * </pre>
 */
public final class PhysicalMemoryCheck {
    private static final int TENSORS = 320;

    private PhysicalMemoryCheck() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--unscoped")) {
            unscoped();
            return;
        }
        GradMode.set_enabled(false);
        System.out.println("| model | wrapped native objects per forward |");
        System.out.println("| --- | ---: |");
        for (String model : List.of("models/stories260K", "fixtures/pythia-tiny", "fixtures/qwen3-tiny",
                "fixtures/gemma2-tiny")) {
            LanguageModel lm = LanguageModel.load(Shared.path(model).toString());
            Tensor ids = torch.tensor(lm.tokenizer().encode("Once upon a time, there was a little girl named Lily."));
            Inputs prompt = Inputs.of().with("input_ids", ids.unsqueeze(0));
            try (PointerScope scope = new PointerScope()) {
                long before = Pointer.totalCount();
                ((CausalLM) lm.module()).forward(prompt);
                System.out.printf(Locale.ROOT, "| %s | %d |%n", Path.of(model).getFileName(), Pointer.totalCount() - before);
            }
        }
        long start = System.nanoTime();
        long sum = 0;
        for (int i = 0; i < 200_000; i++) {
            sum += Pointer.physicalBytesInaccurate(Long.MAX_VALUE);
        }
        System.out.printf(Locale.ROOT, "one check (physicalBytesInaccurate): %.2f us%s%n",
                (System.nanoTime() - start) / 200_000 / 1000.0, sum == 0 ? "" : "");
        System.out.println();
        System.out.println("| " + TENSORS + " tensors of 16 MiB left to the garbage collector, -Xmx256m | peak resident MiB |");
        System.out.println("| --- | ---: |");
        for (String setting : List.of("default", "0")) {
            System.out.printf(Locale.ROOT, "| maxPhysicalBytes %s | %s |%n", setting.equals("default")
                    ? "default (" + Pointer.formatBytes(4 * 256L << 20) + ")" : "= 0", unscopedChild(setting));
        }
    }

    private static String unscopedChild(String setting) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new java.util.ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m"));
        if (!setting.equals("default")) {
            command.add("-Dorg.bytedeco.javacpp.maxPhysicalBytes=" + setting);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PhysicalMemoryCheck.class.getName(), "--unscoped"));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        process.waitFor();
        return output.substring(output.lastIndexOf('\n') + 1);
    }

    /** Makes tensors and drops them, as code without a PointerScope does; prints the peak resident MiB. */
    private static void unscoped() throws IOException {
        for (int i = 0; i < TENSORS; i++) {
            torch.ones(4L << 20).add_(new org.bytedeco.pytorch.Scalar(1)); // 16 MiB, touched
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                System.out.println(Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024);
            }
        }
    }
}
