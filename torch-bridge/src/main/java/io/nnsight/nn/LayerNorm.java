package io.nnsight.nn;

import io.nnsight.nn.internal.MetaKernels;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** Normalises the last dimension to zero mean and unit variance, then scales and shifts it; like {@code nn.LayerNorm}. */
public final class LayerNorm extends HookedModule implements TensorModule {
    private final long[] shape;
    private final double eps;
    private final Tensor weight;
    private final Tensor bias;
    private final TensorOptional optionalWeight;
    private final TensorOptional optionalBias;

    /** A layer norm over a last dimension of size {@code dimension}, with eps 1e-5 and a learned scale and shift. */
    public LayerNorm(long dimension) {
        this(dimension, 1e-5);
    }

    /** A layer norm with the given eps and a learned scale and shift. */
    public LayerNorm(long dimension, double eps) {
        this.shape = new long[] {dimension};
        this.eps = eps;
        this.weight = registerParameter("weight", torch.ones(dimension));
        this.bias = registerParameter("bias", torch.zeros(dimension));
        this.optionalWeight = persistent(new TensorOptional(weight));
        this.optionalBias = persistent(new TensorOptional(bias));
    }

    /**
     * A layer norm over existing tensors, which it registers as its parameters: a model's weights, made by the
     * model and loaded from a checkpoint.
     *
     * @param weight the scale, shape {@code [dimension]}
     * @param bias the shift, shape {@code [dimension]}
     */
    public LayerNorm(Tensor weight, Tensor bias, double eps) {
        this.shape = new long[] {weight.size(0)};
        this.eps = eps;
        this.weight = registerParameter("weight", weight);
        this.bias = registerParameter("bias", bias);
        this.optionalWeight = persistent(new TensorOptional(weight));
        this.optionalBias = persistent(new TensorOptional(bias));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> MetaKernels.layerNorm(x, shape, optionalWeight, optionalBias, eps));
    }

    /** The scale, shape {@code [dimension]}. */
    public Tensor weight() {
        return weight;
    }

    /** The shift, shape {@code [dimension]}. */
    public Tensor bias() {
        return bias;
    }

    @Override
    public String describe() {
        return "LayerNorm((" + shape[0] + ",), eps=" + eps + ", elementwise_affine=true)";
    }
}
