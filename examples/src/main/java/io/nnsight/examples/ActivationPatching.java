package io.nnsight.examples;

import io.nnsight.Invoke;
import io.nnsight.lm.LanguageModel;
import org.bytedeco.pytorch.Tensor;

/**
 * Activation patching: which layer, at which position, carries the information that decides the answer.
 * Two prompts that differ in two words lead to different answers ("She" after a girl named Lily, "He" after
 * a boy named Tim); the corrupted prompt is run with one layer's output at one position copied from the clean
 * prompt, and the answers' logit difference shows how much of the clean behaviour that one activation
 * restores (0 = none, 1 = all): the information sits at the words first, then moves to the last position.
 *
 * <p>Both prompts run in one batched forward pass, as two invokes; the corrupted invoke waits for the clean
 * one's value with {@code clean.get()} (nnsight's variable shared between invokes).
 *
 * <pre>
 * examples/run ActivationPatching [model folder or hub id]      (default ../shared/models/stories260K)
 * </pre>
 */
public final class ActivationPatching {
    private ActivationPatching() {}

    public static void main(String[] args) {
        LanguageModel lm = LanguageModel.load(args.length > 0 ? args[0] : "../shared/models/stories260K");
        String clean = "Once upon a time, there was a little girl named Lily.";  // next: She
        String corrupted = "Once upon a time, there was a little boy named Tim.";  // next: He
        long she = lastId(lm, "She"); // ▁She: a Llama tokenizer marks the space before a word itself
        long he = lastId(lm, "He");
        int tokens = lm.tokenizer().encode(clean).length;
        if (lm.tokenizer().encode(corrupted).length != tokens) {
            throw new IllegalStateException("the prompts must have as many tokens, so that positions correspond");
        }

        double cleanDifference = difference(lm, clean, she, he);
        double corruptedDifference = difference(lm, corrupted, she, he);
        System.out.printf("logit(She) - logit(He): clean %.3f, corrupted %.3f%n", cleanDifference, corruptedDifference);

        System.out.println("Restored by patching one layer's output at one position (rows: layers; columns: tokens):");
        StringBuilder header = new StringBuilder("       ");
        for (long id : lm.tokenizer().encode(corrupted)) {
            header.append(String.format("%7s", lm.tokenizer().token(id).strip()));
        }
        System.out.println(header);
        for (int layer = 0; layer < lm.layerCount(); layer++) {
            String path = "layers." + layer;
            StringBuilder row = new StringBuilder(String.format("%-7s", "L" + layer));
            for (int position = 0; position < tokens; position++) {
                double patched = patched(lm, clean, corrupted, path, position, she, he);
                row.append(String.format("%7.2f", (patched - corruptedDifference) / (cleanDifference - corruptedDifference)));
            }
            System.out.println(row);
        }
    }

    private static long lastId(LanguageModel lm, String word) {
        long[] ids = lm.tokenizer().encode(word);
        return ids[ids.length - 1];
    }

    /** The logit difference of the two answers at the last position of {@code prompt}. */
    static double difference(LanguageModel lm, String prompt, long a, long b) {
        return lm.trace(prompt, tr -> {
            Tensor logits = lm.get("lm_head").output().select(1, -1).select(0, 0);
            return logits.select(0, a).item_double() - logits.select(0, b).item_double();
        });
    }

    /** The corrupted prompt's logit difference with {@code layer}'s output at {@code position} taken from the clean prompt. */
    static double patched(LanguageModel lm, String clean, String corrupted, String layer, int position, long a, long b) {
        Invoke<Double> result = lm.trace(tr -> {
            Invoke<Tensor> source = tr.invoke(clean, () -> lm.get(layer).output().select(1, position).clone());
            return tr.invoke(corrupted, () -> {
                lm.get(layer).output().select(1, position).copy_(source.get());
                Tensor logits = lm.get("lm_head").output().select(1, -1).select(0, 0);
                return logits.select(0, a).item_double() - logits.select(0, b).item_double();
            });
        });
        return result.get();
    }
}
