package io.nnsight.lm;

import io.nnsight.Tensors;
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
}
