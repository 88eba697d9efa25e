package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.MixtureOfExperts;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntUnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

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
        int step = config.integer("decoder_sparse_step", 1);
        Set<Integer> dense = new HashSet<>(config.integers("mlp_only_layers"));
        DecoderSpec.Builder layout = Llama.layout("Qwen2Moe", paths(), config, 0)
                .attentionBias(config.bool("qkv_bias", true), false)
                .windows(windows(config));
        if (experts > 0) {
            layout.sparseMoe(new MixtureOfExperts(experts, config.integer("num_experts_per_tok", 4),
                    config.number("moe_intermediate_size", 1408), config.bool("norm_topk_prob", false), true,
                    config.number("shared_expert_intermediate_size", 5632)),
                    layer -> !dense.contains(layer) && (layer + 1) % step == 0);
        }
        return layout.build();
    }

    /**
     * The windows of the layers: {@code sliding_window} where {@code layer_types} says so, if {@code
     * use_sliding_window}; without {@code layer_types}, the even layers (0, 2, ...) below {@code max_window_layers}.
     */
    private static IntUnaryOperator windows(HfConfig config) {
        int layers = config.integer("num_hidden_layers");
        Integer window = config.bool("use_sliding_window", false) ? config.optionalInteger("sliding_window", 4096) : null;
        int windowLayers = config.integer("max_window_layers", 28);
        List<String> types = config.layerTypes(layers, IntStream.range(0, layers)
                .mapToObj(layer -> window != null && (layer + 1) % 2 == 1 && layer < windowLayers ? HfConfig.SLIDING
                        : HfConfig.FULL)
                .collect(Collectors.toList()));
        return layer -> window != null && types.get(layer).equals(HfConfig.SLIDING) ? window : 0;
    }

    @Override
    public Part part(String name) {
        return ExpertWeights.QWEN.part(name);
    }
}
