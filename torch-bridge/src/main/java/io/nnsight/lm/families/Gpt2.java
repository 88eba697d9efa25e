package io.nnsight.lm.families;

import io.nnsight.lm.ModulePaths;
import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.Norm;

/**
 * GPT-2 ({@code gpt2}): learned positions ({@code wpe}), LayerNorms, projections stored as {@code Conv1D} (weights
 * {@code [in, out]}), one projection for queries, keys and values ({@code c_attn}), a plain MLP ({@code c_fc},
 * {@code c_proj}) with {@code activation_function}, dropouts where transformers has them, and the output layer tied
 * to the embedding. The attention's scale honours {@code scale_attn_weights} and {@code
 * scale_attn_by_inverse_layer_idx}; {@code reorder_and_upcast_attn} changes nothing in float32 (and transformers'
 * default attention ignores it).
 */
public final class Gpt2 extends Family {
    private static final ModulePaths PATHS = new ModulePaths("transformer.wte", "transformer.h", "attn", "mlp",
            "transformer.ln_f", "lm_head");

    /** The family, as {@link Families} knows it. */
    public Gpt2() {
        super("gpt2", PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        if (config.bool("add_cross_attention", false)) {
            throw config.refused("add_cross_attention", "GPT-2 as the decoder of an encoder-decoder model is not implemented");
        }
        long embedding = config.number("n_embd");
        int heads = config.integer("n_head");
        int headDim = (int) (embedding / heads);
        double scale = config.bool("scale_attn_weights", true) ? 1 / Math.sqrt(headDim) : 1;
        boolean inverseLayer = config.bool("scale_attn_by_inverse_layer_idx", false);
        return DecoderSpec.builder("GPT2", paths())
                .sizes(config.number("vocab_size"), embedding, config.has("n_inner") ? config.number("n_inner") : 4 * embedding,
                        config.integer("n_layer"), heads, heads, headDim, config.integer("n_positions"))
                .norm(new Norm(Norm.Kind.LAYER, config.real("layer_norm_epsilon", 1e-5)))
                .activation(config.activation("activation_function", "gelu_new"))
                .learnedPositions("wpe")
                .embeddingDropout("drop")
                .conv1d()
                .fusedQkv("c_attn", DecoderSpec.QkvLayout.CONCATENATED)
                .attentionOutput("c_proj")
                .attentionBias(true, true)
                .attentionDropouts("attn_dropout", "resid_dropout")
                .attentionScale(layer -> inverseLayer ? scale / (layer + 1) : scale)
                .denseMlp("c_fc", "c_proj")
                .activationName("act")
                .mlpBias(true)
                .mlpDropout("dropout")
                .norms("ln_1", "ln_2")
                .tiedHead(config.bool("tie_word_embeddings", true))
                .dropout(config.real("resid_pdrop", 0.1))
                .build();
    }

    @Override
    public boolean ignores(String name) {
        return name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias");
    }
}
