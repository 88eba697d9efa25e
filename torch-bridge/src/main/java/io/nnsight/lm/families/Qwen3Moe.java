package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.MixtureOfExperts;
import java.util.HashSet;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * Qwen 3's mixtures of experts ({@code qwen3_moe}: Qwen3-30B-A3B, Qwen3-235B-A22B): {@link Qwen3}'s attention (RMS
 * norms over each head's queries and keys) with a mixture of experts at {@code mlp} ({@code mlp.gate}, {@code
 * mlp.experts}) in the layers {@code decoder_sparse_step} (1) picks and {@code mlp_only_layers} does not name, the
 * others keeping a dense MLP: {@code num_experts} (128) experts of {@code moe_intermediate_size} (768) features,
 * {@code num_experts_per_tok} (8) per token, renormalised if {@code norm_topk_prob}, their weights in the model's
 * type; {@code sliding_window} in every layer if {@code use_sliding_window}. The Hub's checkpoints keep each expert's
 * weights apart ({@code mlp.experts.E.gate_proj}, {@code up_proj}, {@code down_proj}): they load into the stacked
 * parameters, as transformers loads them.
 */
public final class Qwen3Moe extends Family {
    /** The family, as {@link Families} knows it. */
    public Qwen3Moe() {
        super("qwen3_moe", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        int experts = config.integer("num_experts", 128);
        Integer window = config.bool("use_sliding_window", false) ? config.optionalInteger("sliding_window", 4096) : null;
        boolean bias = config.bool("attention_bias", false);
        DecoderSpec.Builder layout = Llama.layout("Qwen3Moe", paths(), config, 0)
                .attentionBias(bias, bias)
                .queryKeyNorms("q_norm", "k_norm")
                .windows(layer -> window == null ? 0 : window);
        if (experts > 0) {
            layout.sparseMoe(new MixtureOfExperts(experts, config.integer("num_experts_per_tok", 8),
                    config.number("moe_intermediate_size", 768), config.bool("norm_topk_prob", false), true, 0, MixtureOfExperts.Kind.SOFTMAX_THEN_TOP_K),
                    expertLayers(config));
        }
        return layout.build();
    }

    /**
     * The layers of a Qwen mixture that hold experts: those {@code decoder_sparse_step} (1) picks ({@code (layer + 1) %
     * step == 0}) and {@code mlp_only_layers} does not name.
     */
    static IntPredicate expertLayers(HfConfig config) {
        int step = config.integer("decoder_sparse_step", 1);
        Set<Integer> dense = new HashSet<>(config.integers("mlp_only_layers"));
        return layer -> !dense.contains(layer) && (layer + 1) % step == 0;
    }

    @Override
    public Part part(String name) {
        return ExpertWeights.QWEN.part(name);
    }
}
