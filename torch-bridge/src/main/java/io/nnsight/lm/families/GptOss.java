package io.nnsight.lm.families;

import com.google.gson.JsonObject;
import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.MixtureOfExperts;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * OpenAI's GPT-OSS ({@code gpt_oss}: gpt-oss-20b and gpt-oss-120b): Llama's layout with biases on the query, key,
 * value and output projections ({@code attention_bias}, true), a learned sink per head ({@code self_attn.sinks}: a
 * logit that joins each query's softmax), sliding windows of {@code sliding_window} (128) tokens in the layers {@code
 * layer_types} marks (by default every other layer, the first among them), YaRN rotary embeddings whose {@code
 * rotary_emb} gives the angles of one half of each head (by default: factor 32 over 4,096 positions, {@code beta_fast}
 * 32, {@code beta_slow} 1, not truncated, base 150,000), and in every layer a mixture of {@code num_local_experts}
 * (128) experts of {@code intermediate_size} (2,880) features, {@code num_experts_per_tok} (4) per token: {@code
 * mlp.router} takes the top logits, then their softmax, and {@code mlp.experts} compute clamped, biased gated units
 * ({@link MixtureOfExperts.Kind#TOP_K_THEN_SOFTMAX}). The MLP's output is {@code [hidden states, routing weights]},
 * as transformers' {@code GptOssMLP} returns them.
 *
 * <p>OpenAI's own checkpoints store the experts in MXFP4 ({@code quantization_config} with {@code quant_method}
 * {@code mxfp4}: {@code mlp.experts.gate_up_proj_blocks} and {@code _scales}, {@code down_proj_blocks} and {@code
 * _scales}); they load dequantized, into parameters of the model's type, as transformers loads them on a CPU
 * ({@link #quantization()}). Checkpoints already dequantized (bfloat16) load as any other.
 */
public final class GptOss extends Family {
    /** The family, as {@link Families} knows it. */
    public GptOss() {
        super("gpt_oss", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig raw) {
        HfConfig config = raw.withDefaults(defaults(raw));
        int layers = config.integer("num_hidden_layers");
        List<String> fallback = new ArrayList<>();
        for (int layer = 0; layer < layers; layer++) {
            fallback.add(layer % 2 == 0 ? HfConfig.SLIDING : HfConfig.FULL);
        }
        List<String> types = config.layerTypes(layers, fallback);
        Integer window = config.optionalInteger("sliding_window", 128);
        boolean bias = config.bool("attention_bias", true);
        return Llama.layout("GptOss", paths(), config, 64)
                .attentionBias(bias, bias)
                .attentionSinks()
                .halfRotaryOutput()
                .windows(layer -> window != null && types.get(layer).equals(HfConfig.SLIDING) ? window : 0)
                .sparseMoe(new MixtureOfExperts(config.integer("num_local_experts", 128),
                        config.integer("num_experts_per_tok", 4), config.number("intermediate_size"), false, false, 0,
                        MixtureOfExperts.Kind.TOP_K_THEN_SOFTMAX), layer -> true)
                .build();
    }

    /** MXFP4: each value 4 bits, one of 16 (the sign and {@code 0, 0.5, ... 6}), times a power of two per 32 values. */
    @Override
    public String quantization() {
        return "mxfp4";
    }

    /** transformers' {@code GptOssConfig} defaults that differ from the layout's. */
    private static Map<String, Object> defaults(HfConfig config) {
        Map<String, Object> defaults = new HashMap<>();
        defaults.put("rope_theta", 150_000.0);
        defaults.put("rms_norm_eps", 1e-5);
        defaults.put("intermediate_size", 2880);
        if (!config.has("rope_parameters") && !config.has("rope_scaling")) {
            JsonObject yarn = new JsonObject();
            yarn.addProperty("rope_type", "yarn");
            yarn.addProperty("factor", 32.0);
            yarn.addProperty("beta_fast", 32.0);
            yarn.addProperty("beta_slow", 1.0);
            yarn.addProperty("truncate", false);
            yarn.addProperty("original_max_position_embeddings", 4096);
            defaults.put("rope_parameters", yarn);
        }
        return defaults;
    }
}
