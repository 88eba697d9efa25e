package io.nnsight.lm.decoder;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.LayerNorm;
import io.nnsight.nn.RMSNorm;

/**
 * The normalisation a decoder uses everywhere (before and after its blocks, at the end, on queries and keys).
 *
 * @param kind which formula
 * @param eps added to the variance ({@code rms_norm_eps}, {@code layer_norm_eps}...)
 */
public record Norm(Kind kind, double eps) {
    /** The formulas. */
    public enum Kind {
        /** Llama's RMS norm: {@code weight * (x / rms(x))}, normalised in float32 and scaled in the activations' type. */
        RMS,
        /** Gemma's RMS norm: {@code (1 + weight) * x / rms(x)}, all in float32; its weights are stored centred on 0. */
        RMS_UNIT_OFFSET,
        /** OLMo 2's RMS norm: {@code weight * (x / rms(x))}, all in float32, the weight too, cast at the end. */
        RMS_FLOAT32,
        /** {@code nn.LayerNorm}, with a scale and a shift. */
        LAYER
    }

    /** A new norm over a last dimension of {@code dimension}, its weights uninitialised until loaded. */
    public HookedModule create(long dimension, Placement placement) {
        switch (kind) {
            case RMS:
                return new RMSNorm(placement.parameter(dimension), eps);
            case RMS_UNIT_OFFSET:
                return new Float32RMSNorm(placement.parameter(dimension), eps, true);
            case RMS_FLOAT32:
                return new Float32RMSNorm(placement.parameter(dimension), eps, false);
            default:
                return new LayerNorm(placement.parameter(dimension), placement.parameter(dimension), eps);
        }
    }
}
