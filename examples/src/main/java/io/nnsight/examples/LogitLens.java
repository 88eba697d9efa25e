package io.nnsight.examples;

import io.nnsight.Envoy;
import io.nnsight.Tensors;
import io.nnsight.lm.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The logit lens: what the model would predict if it stopped after each layer. The final norm and the output
 * layer are applied to each layer's output at the last position; {@code envoy.call(...)} runs a module
 * directly, unseen by the trace, so the forward pass itself is untouched.
 *
 * <pre>
 * examples/run LogitLens [model folder or hub id]      (default ../shared/models/stories260K)
 * </pre>
 *
 * <p>Modules are named by their standard names ({@code layers}, {@code ln_final}, {@code lm_head}), the same in
 * every architecture (Llama's {@code model.layers} and {@code model.norm}, GPT-2's {@code transformer.h} and
 * {@code transformer.ln_f}...), so the recipe runs unchanged on any language model.
 */
public final class LogitLens {
    private LogitLens() {}

    public static void main(String[] args) {
        LanguageModel lm = LanguageModel.load(args.length > 0 ? args[0] : "../shared/models/stories260K");
        String prompt = "Once upon a time, there was a little girl named Lily.";

        List<Tensors.TopK> lens = lm.trace(prompt, tr -> {
            List<Tensors.TopK> layers = new ArrayList<>();
            for (Envoy layer : lm.get("layers")) {
                Tensor last = layer.output().select(1, -1);                          // [batch, hidden] at the last token
                Tensor logits = lm.get("lm_head").call(lm.get("ln_final").call(last));
                layers.add(Tensors.topK(torch.softmax(logits, -1).select(0, 0), 3)); // Java values: they outlive the trace
            }
            return layers;
        });

        System.out.println("The next token after \"" + prompt + "\", as each layer would predict it (▁ is a space):");
        for (int layer = 0; layer < lens.size(); layer++) {
            StringBuilder line = new StringBuilder(String.format("layer %d:", layer));
            Tensors.TopK top = lens.get(layer);
            for (int i = 0; i < top.size(); i++) {
                line.append(String.format("  %-10s %.3f", "'" + lm.tokenizer().piece(top.index(i)) + "'", top.value(i)));
            }
            System.out.println(line);
        }
        System.out.println("top-1 ids: " + topIds(lens));
    }

    private static List<Long> topIds(List<Tensors.TopK> lens) {
        List<Long> ids = new ArrayList<>();
        lens.forEach(top -> ids.add(top.index(0)));
        return ids;
    }
}
