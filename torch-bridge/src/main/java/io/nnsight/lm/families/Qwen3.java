package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;

/**
 * Qwen 3 ({@code qwen3}): Qwen 2's layout without its biases (unless {@code attention_bias}), with an RMS norm over
 * each head's queries and keys ({@code q_norm}, {@code k_norm}) and an explicit {@code head_dim} (128 when absent).
 */
public final class Qwen3 extends Family {
    /** The family, as {@link Families} knows it. */
    public Qwen3() {
        super("qwen3", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        boolean bias = config.bool("attention_bias", false);
        return Llama.layout("Qwen3", paths(), config, 128)
                .attentionBias(bias, bias)
                .queryKeyNorms("q_norm", "k_norm")
                .windows(Qwen2.windows(config))
                .build();
    }
}
