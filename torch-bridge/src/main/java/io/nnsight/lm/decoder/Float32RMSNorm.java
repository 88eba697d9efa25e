package io.nnsight.lm.decoder;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * An RMS norm computed in float32, its weight included, and returned in the input's type: Gemma's, {@code x /
 * sqrt(mean(x^2) + eps) * (1 + weight)} (transformers' {@code Gemma2RMSNorm}, {@code Gemma3RMSNorm}), whose weight is
 * stored centred on 0 (a checkpoint's zeros mean a scale of 1); or OLMo 2's, {@code x / sqrt(mean(x^2) + eps) *
 * weight} ({@code Olmo2RMSNorm}), which differs from Llama's {@link io.nnsight.nn.RMSNorm} in half precision only:
 * Llama's casts before it scales.
 */
public final class Float32RMSNorm extends HookedModule implements TensorModule {
    private static final Scalar ONE = persistent(new Scalar(1.0));

    private final long[] shape;
    private final double eps;
    private final boolean unitOffset;
    private final Tensor weight;
    private final DoubleOptional optionalEps;

    /**
     * A norm over an existing tensor, registered as its {@code weight}.
     *
     * @param weight the scale, shape {@code [dimension]}; with {@code unitOffset}, the scale minus 1
     * @param unitOffset whether the scale is {@code 1 + weight} (Gemma's) rather than {@code weight}
     */
    public Float32RMSNorm(Tensor weight, double eps, boolean unitOffset) {
        this.shape = new long[] {weight.size(0)};
        this.eps = eps;
        this.unitOffset = unitOffset;
        this.weight = registerParameter("weight", weight);
        this.optionalEps = persistent(new DoubleOptional(eps));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::compute);
    }

    private Tensor compute(Tensor x) {
        Tensor scale = weight.to(torch.ScalarType.Float);
        if (unitOffset) {
            scale = scale.add(ONE);
        }
        return torch.rms_norm(x.to(torch.ScalarType.Float), shape, new TensorOptional(scale), optionalEps)
                .to(x.scalar_type());
    }

    /** The weight, shape {@code [dimension]}: the scale, or with a unit offset the scale minus 1. */
    public Tensor weight() {
        return weight;
    }

    @Override
    public String describe() {
        return "RMSNorm((" + shape[0] + ",), eps=" + eps + (unitOffset ? ", scale=1+weight" : "") + ")";
    }
}
