package io.nnsight.lm.families;

import io.nnsight.lm.ModulePaths;
import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.Norm;

/**
 * GPT-NeoX ({@code gpt_neox}: Pythia, GPT-NeoX-20B): LayerNorms, one projection for each head's query, key and
 * value ({@code query_key_value}), rotary embeddings on the first {@code rotary_pct} (or {@code
 * partial_rotary_factor}) of each head, a plain GELU MLP, and the attention and MLP reading the same input in
 * parallel ({@code use_parallel_residual}; sequential when false). Checkpoints name the output layer {@code
 * embed_out}, transformers 5 {@code lm_head}: both load.
 */
public final class GptNeoX extends Family {
    private static final ModulePaths PATHS = new ModulePaths("gpt_neox.embed_in", "gpt_neox.layers", "attention", "mlp",
            "gpt_neox.final_layer_norm", "lm_head");

    /** The family, as {@link Families} knows it. */
    public GptNeoX() {
        super("gpt_neox", PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        int heads = config.integer("num_attention_heads");
        long hidden = config.number("hidden_size");
        boolean bias = config.bool("attention_bias", true);
        return DecoderSpec.builder("GPTNeoX", paths())
                .sizes(config.number("vocab_size"), hidden, config.number("intermediate_size"),
                        config.integer("num_hidden_layers"), heads, heads, (int) (hidden / heads),
                        config.integer("max_position_embeddings"))
                .norm(new Norm(Norm.Kind.LAYER, config.real("layer_norm_eps", 1e-5)))
                .activation(config.activation("hidden_act", "gelu"))
                .rope(config.rope("rotary_emb_base", "rotary_pct", 0.25))
                .embeddingDropout("emb_dropout")
                .fusedQkv("query_key_value", DecoderSpec.QkvLayout.PER_HEAD)
                .attentionOutput("dense")
                .attentionBias(bias, bias)
                .denseMlp("dense_h_to_4h", "dense_4h_to_h")
                .activationName("act")
                .mlpBias(true)
                .residualDropouts("post_attention_dropout", "post_mlp_dropout")
                .residual(config.bool("use_parallel_residual", true) ? DecoderSpec.Residual.PARALLEL
                        : DecoderSpec.Residual.SEQUENTIAL)
                .tiedHead(config.bool("tie_word_embeddings", false))
                .dropout(config.real("hidden_dropout", 0.0))
                .build();
    }

    @Override
    public String parameterName(String name) {
        return name.startsWith("embed_out.") ? "lm_head." + name.substring("embed_out.".length()) : name;
    }

    @Override
    public boolean ignores(String name) {
        return super.ignores(name) || name.endsWith(".attention.bias") || name.endsWith(".attention.masked_bias");
    }
}
