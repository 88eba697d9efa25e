package io.nnsight.nn;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Scales the last dimension by the inverse of its root mean square, then by a learned weight: {@code
 * x / sqrt(mean(x^2) + eps) * weight}, like {@code nn.RMSNorm} (and Llama's norm).
 */
public final class RMSNorm extends HookedModule implements TensorModule {
    private final long[] shape;
    private final double eps;
    private final Tensor weight;
    private final TensorOptional optionalWeight;
    private final DoubleOptional optionalEps;

    /** An RMS norm over a last dimension of size {@code dimension}. */
    public RMSNorm(long dimension, double eps) {
        this.shape = new long[] {dimension};
        this.eps = eps;
        this.weight = registerParameter("weight", torch.ones(dimension));
        this.optionalWeight = persistent(new TensorOptional(weight));
        this.optionalEps = persistent(new DoubleOptional(eps));
    }

    /**
     * An RMS norm over an existing tensor, which it registers as its {@code weight}: a model's norm, made by the
     * model and loaded from a checkpoint.
     *
     * @param weight the scale, shape {@code [dimension]}
     */
    public RMSNorm(Tensor weight, double eps) {
        this.shape = new long[] {weight.size(0)};
        this.eps = eps;
        this.weight = registerParameter("weight", weight);
        this.optionalWeight = persistent(new TensorOptional(weight));
        this.optionalEps = persistent(new DoubleOptional(eps));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> torch.rms_norm(x, shape, optionalWeight, optionalEps));
    }

    /** The scale, shape {@code [dimension]}. */
    public Tensor weight() {
        return weight;
    }

    @Override
    public String describe() {
        return "RMSNorm((" + shape[0] + ",), eps=" + eps + ")";
    }
}
