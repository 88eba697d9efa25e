package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.Norm;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Gemma 2 ({@code gemma2}, the models of Gemma Scope): Llama's layout with the token embeddings scaled by {@code
 * sqrt(hidden_size)}, the RMS norm {@code (1 + weight) * x / rms(x)} in float32, norms before and after the
 * attention and the MLP, the attention scaled by {@code query_pre_attn_scalar^-0.5} and its scores soft-capped
 * ({@code attn_logit_softcapping}, so its attention always computes its probabilities), sliding-window and full
 * layers alternating as {@code layer_types} says, GeGLU ({@code hidden_activation}), and soft-capped logits
 * ({@code final_logit_softcapping}).
 */
public final class Gemma2 extends Family {
    /** The family, as {@link Families} knows it. */
    public Gemma2() {
        super("gemma2", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        int layers = config.integer("num_hidden_layers");
        List<String> types = config.layerTypes(layers, IntStream.range(0, layers)
                .mapToObj(layer -> layer % 2 == 0 ? HfConfig.SLIDING : HfConfig.FULL).collect(Collectors.toList()));
        return layout(Llama.layout("Gemma2", paths(), config, 256), config, types)
                .attentionSoftcap(config.optionalReal("attn_logit_softcapping", 50.0))
                .finalSoftcap(config.optionalReal("final_logit_softcapping", 30.0))
                .build();
    }

    /**
     * The layout Gemma 2 and 3 share, over {@code base} (Llama's sizes and positions): scaled embeddings, {@code (1 +
     * weight)} RMS norms before and after both blocks, GeGLU, the attention scaled by {@code
     * query_pre_attn_scalar^-0.5}, {@code sliding_window} in the layers {@code types} says are sliding, a tied head.
     *
     * @throws IllegalArgumentException for {@code use_bidirectional_attention}
     */
    static DecoderSpec.Builder layout(DecoderSpec.Builder base, HfConfig config, List<String> types) {
        if (config.bool("use_bidirectional_attention", false)) {
            throw config.refused("use_bidirectional_attention", "only causal attention is implemented");
        }
        Integer window = config.optionalInteger("sliding_window", 4096);
        boolean bias = config.bool("attention_bias", false);
        return base.norm(new Norm(Norm.Kind.RMS_UNIT_OFFSET, config.real("rms_norm_eps", 1e-6)))
                .activation(config.activation("hidden_activation", "gelu_pytorch_tanh"))
                .embeddingScale(Math.sqrt(config.number("hidden_size")))
                .sandwichNorms("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                        "post_feedforward_layernorm")
                .attentionBias(bias, bias)
                .attentionScale(Math.pow(config.real("query_pre_attn_scalar", 256), -0.5))
                .windows(layer -> window != null && types.get(layer).equals(HfConfig.SLIDING) ? window : 0)
                .tiedHead(config.bool("tie_word_embeddings", true));
    }
}
