package io.nnsight.lm.families;

import io.nnsight.lm.ModulePaths;
import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.Norm;

/**
 * Llama ({@code llama}: Llama 1 to 3.x, and the many models of its layout): the layout {@link DecoderSpec}
 * starts from, with optional biases, and rotary embeddings of type {@code default}, {@code linear}, {@code
 * dynamic}, {@code llama3}, {@code yarn} or {@code longrope}.
 */
public final class Llama extends Family {
    /** The paths of Llama's layout, which most families share. */
    static final ModulePaths PATHS = new ModulePaths("model.embed_tokens", "model.layers", "self_attn", "mlp",
            "model.norm", "lm_head");

    /** The family, as {@link Families} knows it. */
    public Llama() {
        super("llama", PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        boolean bias = config.bool("attention_bias", false);
        return layout("Llama", PATHS, config, 0).attentionBias(bias, bias).mlpBias(config.bool("mlp_bias", false)).build();
    }

    /**
     * Llama's layout with the fields every family of it reads the same way: the sizes ({@code vocab_size},
     * {@code hidden_size}, {@code intermediate_size}, {@code num_hidden_layers}, {@code num_attention_heads},
     * {@code num_key_value_heads}, {@code head_dim}, {@code max_position_embeddings}), {@code rms_norm_eps},
     * {@code hidden_act}, the rotary embeddings and {@code tie_word_embeddings}.
     *
     * @param headDim the default of {@code head_dim}; 0 for {@code hidden_size / num_attention_heads}
     */
    static DecoderSpec.Builder layout(String family, ModulePaths paths, HfConfig config, int headDim) {
        return unrotated(family, paths, config, headDim).rope(config.rope(null, null, 1.0));
    }

    /** {@link #layout} without the rotary embeddings, for a family that reads them its own way. */
    static DecoderSpec.Builder unrotated(String family, ModulePaths paths, HfConfig config, int headDim) {
        int heads = config.integer("num_attention_heads");
        long hidden = config.number("hidden_size");
        return DecoderSpec.builder(family, paths)
                .sizes(config.number("vocab_size"), hidden, config.number("intermediate_size"),
                        config.integer("num_hidden_layers"), heads, config.integer("num_key_value_heads", heads),
                        config.integer("head_dim", headDim > 0 ? headDim : (int) (hidden / heads)),
                        config.integer("max_position_embeddings"))
                .norm(new Norm(Norm.Kind.RMS, config.real("rms_norm_eps", 1e-6)))
                .activation(config.activation("hidden_act", "silu"))
                .tiedHead(config.bool("tie_word_embeddings", false));
    }
}
