package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.MixtureOfExperts;
import io.nnsight.lm.decoder.Norm;

/**
 * OLMoE ({@code olmoe}: AI2's open mixture of experts, OLMoE-1B-7B): Llama's layout with RMS norms over the whole
 * query and key projections ({@code q_norm}, {@code k_norm}, as {@link Olmo2}'s), queries, keys and values clipped to
 * {@code [-clip_qkv, clip_qkv]} when the config gives it, and a mixture of experts at {@code mlp} in every layer:
 * {@code num_experts} (64) experts of {@code intermediate_size} features, {@code num_experts_per_tok} (8) per token,
 * renormalised if {@code norm_topk_prob} (false), their weights in the model's type; {@code rms_norm_eps} 1e-5 when
 * absent. The Hub's checkpoints keep each expert's weights apart ({@code mlp.experts.E.gate_proj}, {@code up_proj},
 * {@code down_proj}): they load into the stacked parameters, as transformers loads them.
 */
public final class Olmoe extends Family {
    /** The family, as {@link Families} knows it. */
    public Olmoe() {
        super("olmoe", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        boolean bias = config.bool("attention_bias", false);
        return Llama.layout("Olmoe", paths(), config, 0)
                .norm(new Norm(Norm.Kind.RMS, config.real("rms_norm_eps", 1e-5)))
                .projectionNorms("q_norm", "k_norm")
                .attentionBias(bias, bias)
                .clipQkv(config.optionalReal("clip_qkv", null))
                .sparseMoe(new MixtureOfExperts(config.integer("num_experts", 64),
                        config.integer("num_experts_per_tok", 8), config.number("intermediate_size"),
                        config.bool("norm_topk_prob", false), true, 0, MixtureOfExperts.Kind.SOFTMAX_THEN_TOP_K), layer -> true)
                .build();
    }

    @Override
    public Part part(String name) {
        return ExpertWeights.QWEN.part(name);
    }
}
