package io.nnsight.cli;

import io.nnsight.Barrier;
import io.nnsight.Invoke;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.pytorch.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code nnsight demo}: without {@code --model}, the offline tour on a model the project builds itself;
 * with one, a short generation, a logit lens over the layers, and activation patching between two prompts.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Show what nnsight does.", "Without --model: a tour on a 12-layer MLP built here (no download).",
            "With --model: a generation, a logit lens and activation patching on a language model."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, paramLabel = "DIR|ID", description = "A Hugging Face model folder or hub repository id.")
    String model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "A tokenizer.json to use instead of the folder's.")
    java.nio.file.Path tokenizer;

    @Option(names = {"-p", "--prompt"}, defaultValue = "Once upon a time, there was a little girl named Lily.",
            description = "The prompt of the language model tour (default: \"${DEFAULT-VALUE}\").")
    String prompt;

    @Option(names = "--other", defaultValue = "Once upon a time, there was a little boy named Tom.",
            description = "The prompt patched from --prompt (default: \"${DEFAULT-VALUE}\").")
    String other;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (model == null) {
            java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
            MlpTour.run(new PrintStream(buffer, true, StandardCharsets.UTF_8));
            out.print(buffer.toString(StandardCharsets.UTF_8));
            out.println();
            out.println("Next: nnsight demo --model <Hugging Face model folder>");
            return 0;
        }
        LanguageModel lm = ModelOptions.load(model, tokenizer, new PlacementOptions(),
                Progress.onTerminal(spec.commandLine().getErr()));
        out.println("Model: " + lm.folder() + " (" + lm.architecture() + ", " + lm.layerCount() + " layers, " + lm.dtype()
                .torchName() + ")");

        out.println();
        out.println("1. Generation, 20 greedy tokens:");
        out.println("   " + prompt + lm.generate(prompt, Generation.maxNewTokens(20)).texts().get(0));

        out.println();
        out.println("2. Logit lens: the next token each layer would predict at each position:");
        out.print(LogitLens.of(lm, prompt).table().indent(3));

        out.println();
        out.println("3. Activation patching: the last position's output of one layer, copied from the first prompt");
        out.println("   into the second, and the second prompt's prediction afterwards:");
        out.println("   first:  " + prompt + " -> " + quote(lm, predict(lm, prompt)));
        out.println("   second: " + other + " -> " + quote(lm, predict(lm, other)));
        for (int layer = 0; layer < lm.layerCount(); layer++) {
            out.println("   patching layer " + layer + " -> " + quote(lm, patched(lm, layerPath(lm, layer))));
        }
        return 0;
    }

    private long predict(LanguageModel lm, String text) {
        return lm.trace(text, tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long());
    }

    private long patched(LanguageModel lm, String layer) {
        Invoke<Long> result = lm.trace(tr -> {
            Barrier barrier = tr.barrier(2);
            AtomicReference<Tensor> source = new AtomicReference<>();
            tr.invoke(prompt, () -> {
                source.set(lm.get(layer).output().select(1, -1).clone());
                barrier.await();
            });
            return tr.invoke(other, () -> {
                barrier.await();
                lm.get(layer).output().select(1, -1).copy_(source.get());
                return lm.get("lm_head").output().select(1, -1).argmax().item_long();
            });
        });
        return result.get();
    }

    static String layerPath(LanguageModel lm, int layer) {
        return (lm.architecture().equals("llama") ? "model.layers." : "transformer.h.") + layer;
    }

    private static String quote(LanguageModel lm, long token) {
        return "'" + lm.tokenizer().token(token) + "'";
    }
}
