package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import io.nnsight.lm.decoder.Norm;

/**
 * OLMo 2 ({@code olmo2}: AI2's fully open models, 1B to 32B, whose data and checkpoints are public): Llama's layout
 * with norms after the attention and the MLP instead of before them ({@code post_attention_layernorm}, {@code
 * post_feedforward_layernorm}), RMS norms over the whole query and key projections ({@code q_norm}, {@code k_norm},
 * all heads at once, before the rotation), and RMS norms computed in float32 with their weight, as transformers'
 * {@code Olmo2RMSNorm} does ({@code rms_norm_eps} 1e-5 when absent).
 */
public final class Olmo2 extends Family {
    /** The family, as {@link Families} knows it. */
    public Olmo2() {
        super("olmo2", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        return layout(Llama.layout("Olmo2", paths(), config, 0), config).build();
    }

    /**
     * The layout OLMo 2 and 3 share, over {@code base} (Llama's sizes and positions): norms after the blocks only,
     * q/k norms over whole projections, RMS norms in float32 ({@code rms_norm_eps}, 1e-5 when absent), and biases
     * on the attention's projections if {@code attention_bias}.
     */
    static DecoderSpec.Builder layout(DecoderSpec.Builder base, HfConfig config) {
        boolean bias = config.bool("attention_bias", false);
        return base.norm(new Norm(Norm.Kind.RMS_FLOAT32, config.real("rms_norm_eps", 1e-5)))
                .postNorms("post_attention_layernorm", "post_feedforward_layernorm")
                .projectionNorms("q_norm", "k_norm")
                .attentionBias(bias, bias);
    }
}
