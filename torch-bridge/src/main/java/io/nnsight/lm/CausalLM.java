package io.nnsight.lm;

import io.nnsight.Inputs;
import org.bytedeco.pytorch.Tensor;

/**
 * A decoder-only language model that {@link LanguageModel} can run: it takes the named inputs {@code
 * input_ids}, {@code attention_mask} and {@code past_key_values} and returns logits {@code [batch, tokens,
 * vocab]}.
 */
public interface CausalLM {
    /** Runs the model. */
    Tensor forward(Inputs inputs);

    /** The number of attention layers, for the key/value cache. */
    int layers();

    /** The most tokens a sequence may have (position embeddings). */
    int contextLength();

    /** The number of tokens the model knows. */
    long vocabularySize();

    /** Whether the output layer shares its weight with the token embedding (so checkpoints omit it). */
    boolean tiesOutputToEmbedding();
}
