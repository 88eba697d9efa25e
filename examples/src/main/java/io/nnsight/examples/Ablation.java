package io.nnsight.examples;

import io.nnsight.Tensors;
import io.nnsight.lm.LanguageModel;
import org.bytedeco.pytorch.Tensor;

/**
 * Ablation: switch off a part of the model and see what the prediction loses. First a whole MLP (its
 * output zeroed in place), then each attention head of one layer: a head's output is its slice of the
 * input of {@code o_proj}, the projection that mixes the heads, so zeroing that slice removes the head.
 *
 * <pre>
 * examples/run Ablation [model folder or hub id]      (default ../shared/models/stories260K)
 * </pre>
 */
public final class Ablation {
    private Ablation() {}

    public static void main(String[] args) {
        LanguageModel lm = LanguageModel.load(args.length > 0 ? args[0] : "../shared/models/stories260K");
        String prompt = "Once upon a time, there was a little girl named Lily.";

        Tensor clean = lm.trace(prompt, tr -> lastLogits(lm));
        Tensor withoutMlp = lm.trace(prompt, tr -> {
            lm.get("layers.4.mlp").output().zero_();               // the live output: the rest of the model sees zeros
            return lastLogits(lm);
        });
        System.out.println("top 5:                     " + top(lm, clean));
        System.out.println("top 5, layer 4's MLP off:  " + top(lm, withoutMlp));

        long answer = Tensors.topK(clean, 1).index(0);
        int layer = 3;
        int heads = 8;
        System.out.printf("logit of '%s' (%.3f) with one head of layer %d off:%n", lm.tokenizer().token(answer),
                clean.select(0, answer).item_double(), layer);
        for (int head = 0; head < heads; head++) {
            int off = head;
            Tensor ablated = lm.trace(prompt, tr -> {
                Tensor heads8 = lm.get("model.layers." + layer + ".self_attn.o_proj").input();  // [batch, tokens, heads * head_dim]
                long headDim = heads8.size(-1) / heads;
                heads8.narrow(-1, off * headDim, headDim).zero_();
                return lastLogits(lm);
            });
            System.out.printf("  head %d: %.3f%n", head, ablated.select(0, answer).item_double());
        }
    }

    /** The logits at the last position of the (one) prompt: {@code [vocab]}. */
    private static Tensor lastLogits(LanguageModel lm) {
        return lm.get("lm_head").output().select(1, -1).select(0, 0);
    }

    private static String top(LanguageModel lm, Tensor logits) {
        Tensors.TopK top = Tensors.topK(logits, 5);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < top.size(); i++) {
            text.append(i == 0 ? "" : ", ").append(String.format("'%s' (%d) %.2f", lm.tokenizer().piece(top.index(i)),
                    top.index(i), top.value(i)));
        }
        return text.toString();
    }
}
