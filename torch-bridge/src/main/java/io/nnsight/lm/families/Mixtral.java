package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.MixtureOfExperts;

/**
 * Mixtral ({@code mixtral}: Mixtral 8x7B and 8x22B, and the mixtures of experts of its layout): Mistral's layout
 * with a mixture of experts in place of each layer's MLP, at transformers 5's paths: {@code mlp.gate}, the router
 * over {@code num_local_experts} (8) experts, of which each token takes {@code num_experts_per_tok} (2), weighted by
 * the softmax of the router's logits renormalised over them, and {@code mlp.experts}, their gated MLPs ({@code
 * gate_up_proj}, {@code down_proj}). The Hub's checkpoints name the block {@code block_sparse_moe} and keep each
 * expert's weights apart ({@code experts.E.w1}, {@code w3}: gate and up; {@code w2}: down): they load into the
 * stacked parameters, as transformers loads them. {@code sliding_window} is none when absent.
 */
public final class Mixtral extends Family {
    /** The family, as {@link Families} knows it. */
    public Mixtral() {
        super("mixtral", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        Integer window = config.optionalInteger("sliding_window", null);
        MixtureOfExperts moe = new MixtureOfExperts(config.integer("num_local_experts", 8),
                config.integer("num_experts_per_tok", 2), config.number("intermediate_size"), true, false, 0,
                MixtureOfExperts.Kind.SOFTMAX_THEN_TOP_K);
        return Llama.layout("Mixtral", paths(), config, 0)
                .windows(layer -> window == null ? 0 : window)
                .sparseMoe(moe, layer -> true)
                .build();
    }

    @Override
    public String parameterName(String name) {
        return name.replace(".block_sparse_moe.", ".mlp.");
    }

    @Override
    public Part part(String name) {
        return ExpertWeights.MIXTRAL.part(name);
    }
}
