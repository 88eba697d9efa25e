package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.Norm;

/**
 * Phi-3 ({@code phi3}, and Phi-4-mini): Llama's layout with one projection for queries, keys and values ({@code
 * qkv_proj}) and one for the MLP's gate and up halves ({@code gate_up_proj}), dropouts on each block's output
 * ({@code resid_attn_dropout}, {@code resid_mlp_dropout}), partial rotary embeddings ({@code
 * partial_rotary_factor}) and an optional sliding window ({@code sliding_window}). The 128k-context models' {@code
 * longrope} scaling switches to its long factors once a forward pass reaches past {@code
 * original_max_position_embeddings}; a generation that crosses that point keeps the keys it cached before with the
 * short factors' rotation, as transformers' other longrope models do, where transformers' Phi-3 means to recompute
 * them (its generate drops the cache there).
 */
public final class Phi3 extends Family {
    /** The family, as {@link Families} knows it. */
    public Phi3() {
        super("phi3", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        Integer window = config.optionalInteger("sliding_window", null);
        return Llama.layout("Phi3", paths(), config, 0)
                .norm(new Norm(Norm.Kind.RMS, config.real("rms_norm_eps", 1e-5)))
                .rope(config.rope(null, "partial_rotary_factor", 1.0))
                .fusedQkv("qkv_proj", DecoderSpec.QkvLayout.CONCATENATED)
                .fusedGatedMlp("gate_up_proj", "down_proj")
                .activationName("activation_fn")
                .residualDropouts("resid_attn_dropout", "resid_mlp_dropout")
                .dropout(config.real("resid_pdrop", 0.0))
                .windows(layer -> window == null ? 0 : window)
                .build();
    }
}
