package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.MixtureOfExperts;

/**
 * Qwen 1.5 and 2's mixtures of experts ({@code qwen2_moe}: Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B): {@link Qwen2}'s
 * attention (biases on the query, key and value projections if {@code qkv_bias}) with a mixture of experts at {@code
 * mlp} in the layers {@code decoder_sparse_step} (1) picks and {@code mlp_only_layers} does not name, the others keeping
 * a dense MLP: {@code num_experts} (60) experts of {@code moe_intermediate_size} (1408) features, {@code
 * num_experts_per_tok} (4) per token, renormalised if {@code norm_topk_prob}, and a shared expert of {@code
 * shared_expert_intermediate_size} (5632) features that every token goes to ({@code mlp.shared_expert}), scaled by
 * the sigmoid of {@code mlp.shared_expert_gate}. Sliding windows, with {@code use_sliding_window}, in the layers {@code
 * layer_types} marks (by default every other layer below {@code max_window_layers}, as transformers' config does).
 * The Hub's checkpoints keep each expert's weights apart ({@code mlp.experts.E.gate_proj}, {@code up_proj}, {@code
 * down_proj}): they load into the stacked parameters, as transformers loads them.
 */
public final class Qwen2Moe extends Family {
    /** The family, as {@link Families} knows it. */
    public Qwen2Moe() {
        super("qwen2_moe", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        int experts = config.integer("num_experts", 60);
        DecoderSpec.Builder layout = Llama.layout("Qwen2Moe", paths(), config, 0)
                .attentionBias(config.bool("qkv_bias", true), false)
                .windows(Qwen2.windows(config, (layer, windowLayers) -> layer % 2 == 0 && layer < windowLayers));
        if (experts > 0) {
            layout.sparseMoe(new MixtureOfExperts(experts, config.integer("num_experts_per_tok", 4),
                    config.number("moe_intermediate_size", 1408), config.bool("norm_topk_prob", false), true,
                    config.number("shared_expert_intermediate_size", 5632), MixtureOfExperts.Kind.SOFTMAX_THEN_TOP_K),
                    Qwen3Moe.expertLayers(config));
        }
        return layout.build();
    }

    @Override
    public Part part(String name) {
        return ExpertWeights.QWEN.part(name);
    }
}
