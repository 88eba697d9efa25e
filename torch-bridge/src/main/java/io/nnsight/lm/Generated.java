package io.nnsight.lm;

import io.nnsight.Tensors;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * What {@link LanguageModel#generate(Object, Generation)} produced.
 *
 * @param tokens the prompt and generated ids of each sequence, {@code [batch, prompt + new]}; shorter
 *     prompts are padded on the left, and sequences that stopped early on the right
 * @param texts each sequence's generated text (without the prompt and special tokens)
 */
public record Generated(Tensor tokens, List<String> texts) {
    /** How many sequences: the prompts of the batch. */
    public int size() {
        return texts.size();
    }

    /** The prompt and generated ids of sequence {@code row}, as Java values (padding included). */
    public long[] ids(int row) {
        return Tensors.longs(tokens.select(0, row));
    }

    /** The texts, and each sequence's ids: {@code Generated[texts=[" She loved"], ids=[[1, 403, 407, 338, 401]]]}. */
    @Override
    public String toString() {
        StringBuilder ids = new StringBuilder("[");
        if (tokens.isNull()) {
            ids.append(Tensors.describe(tokens));
        } else {
            for (int row = 0; row < tokens.size(0); row++) {
                ids.append(row == 0 ? "" : ", ").append(Arrays.toString(ids(row)));
            }
        }
        return "Generated[texts=" + texts + ", ids=" + ids + "]]";
    }
}
