package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;

/**
 * Mistral ({@code mistral}): Llama's layout with sliding-window attention in every layer ({@code sliding_window},
 * 4096 when absent; {@code null} for none), during generation as well.
 */
public final class Mistral extends Family {
    /** The family, as {@link Families} knows it. */
    public Mistral() {
        super("mistral", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        Integer window = config.optionalInteger("sliding_window", 4096);
        return Llama.layout("Mistral", paths(), config, 0).windows(layer -> window == null ? 0 : window).build();
    }
}
