package io.nnsight.lm.families;

import io.nnsight.lm.ModulePaths;
import io.nnsight.lm.decoder.DecoderSpec;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Gemma 3's language models ({@code gemma3_text}: the text-only checkpoints, 270M and 1B, and the models of Gemma
 * Scope 2 trained on them): {@link Gemma2}'s layout (scaled embeddings, {@code (1 + weight)} RMS norms in float32
 * before and after both blocks, GeGLU, the attention scaled by {@code query_pre_attn_scalar^-0.5}) with an RMS norm
 * over each head's queries and keys ({@code q_norm}, {@code k_norm}), no soft-capping unless the config asks for it,
 * five sliding-window layers to each full one ({@code layer_types}, or the older {@code sliding_window_pattern}), and
 * rotary embeddings per layer type: the full layers' over {@code rope_theta} (1,000,000) with the config's scaling,
 * the sliding layers' over {@code rope_local_base_freq} (10,000), as {@code rope_parameters.full_attention} and
 * {@code rope_parameters.sliding_attention} give them in transformers 5's configs.
 */
public final class Gemma3 extends Family {
    /**
     * transformers' defaults ({@code Gemma3TextConfig}) of the sizes, which the image-text checkpoints' {@code
     * text_config} leaves out when they are the 4B model's.
     */
    static final Map<String, Number> TEXT_DEFAULTS = Map.of("vocab_size", 262_208, "hidden_size", 2304,
            "intermediate_size", 9216, "num_hidden_layers", 26, "num_attention_heads", 8, "num_key_value_heads", 4,
            "head_dim", 256, "max_position_embeddings", 131_072);

    /** The family, as {@link Families} knows it. */
    public Gemma3() {
        super("gemma3_text", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        return decoder(paths(), config.withDefaults(TEXT_DEFAULTS));
    }

    /** Gemma 3's language model, its main modules at {@code paths}, as {@code config} (its own or a section) says. */
    static DecoderSpec decoder(ModulePaths paths, HfConfig config) {
        int layers = config.integer("num_hidden_layers");
        int pattern = config.integer("sliding_window_pattern", 6);
        List<String> types = config.layerTypes(layers, IntStream.range(0, layers)
                .mapToObj(layer -> (layer + 1) % pattern != 0 ? HfConfig.SLIDING : HfConfig.FULL)
                .collect(Collectors.toList()));
        DecoderSpec.Builder base = Llama.unrotated("Gemma3", paths, config, 256)
                .rope(config.ropeOfLayers(HfConfig.FULL, "rope_theta", 1e6))
                .localRope(config.ropeOfLayers(HfConfig.SLIDING, "rope_local_base_freq", 1e4),
                        layer -> types.get(layer).equals(HfConfig.SLIDING));
        return Gemma2.layout(base, config, types)
                .queryKeyNorms("q_norm", "k_norm")
                .attentionSoftcap(config.optionalReal("attn_logit_softcapping", null))
                .finalSoftcap(config.optionalReal("final_logit_softcapping", null))
                .build();
    }
}
