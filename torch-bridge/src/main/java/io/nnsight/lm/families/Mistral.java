package io.nnsight.lm.families;

import io.nnsight.lm.ModulePaths;
import io.nnsight.lm.decoder.DecoderSpec;

/**
 * Mistral ({@code mistral}): Llama's layout with sliding-window attention in every layer ({@code sliding_window},
 * 4096 when absent; {@code null} for none), during generation as well.
 */
public final class Mistral implements Family {
    private static final ModulePaths PATHS = new ModulePaths("model.embed_tokens", "model.layers", "self_attn", "mlp",
            "model.norm", "lm_head");

    @Override
    public String modelType() {
        return "mistral";
    }

    @Override
    public ModulePaths paths() {
        return PATHS;
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        Integer window = config.optionalInteger("sliding_window", 4096);
        return Llama.layout("Mistral", PATHS, config, 0).windows(layer -> window == null ? 0 : window).build();
    }
}
