package io.nnsight.nn;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code y = x W^T + b}, like PyTorch's {@code nn.Linear}: {@code weight} has shape {@code [out, in]}, and
 * both parameters start uniform in {@code ±1/sqrt(in)}.
 */
public final class Linear extends HookedModule implements TensorModule {
    private final long inFeatures;
    private final long outFeatures;
    private final Tensor weight;
    private final Tensor bias;
    private final TensorOptional optionalBias;

    /** A layer with a bias. */
    public Linear(long inFeatures, long outFeatures) {
        this(inFeatures, outFeatures, true);
    }

    /** A layer with or without a bias. */
    public Linear(long inFeatures, long outFeatures, boolean withBias) {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        double bound = 1 / Math.sqrt(inFeatures);
        this.weight = registerParameter("weight", uniform(bound, outFeatures, inFeatures));
        this.bias = withBias ? registerParameter("bias", uniform(bound, outFeatures)) : null;
        this.optionalBias = persistent(withBias ? new TensorOptional(bias) : new TensorOptional());
    }

    /**
     * A layer over existing parameters, which it shares: a language model's output layer tied to its
     * embedding is {@code new Linear(embedding.weight(), null)}.
     *
     * @param weight shape {@code [out, in]}
     * @param bias shape {@code [out]}, or {@code null}
     */
    public Linear(Tensor weight, Tensor bias) {
        this.inFeatures = weight.size(1);
        this.outFeatures = weight.size(0);
        this.weight = registerParameter("weight", weight);
        this.bias = bias == null ? null : registerParameter("bias", bias);
        this.optionalBias = persistent(bias == null ? new TensorOptional() : new TensorOptional(bias));
    }

    static Tensor uniform(double bound, long... shape) {
        return torch.rand(shape).mul_(new Scalar(2 * bound)).sub_(new Scalar(bound));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> torch.linear(x, weight, optionalBias));
    }

    /** The weight, shape {@code [out, in]}. */
    public Tensor weight() {
        return weight;
    }

    /** The bias, shape {@code [out]}, or {@code null}. */
    public Tensor bias() {
        return bias;
    }

    @Override
    public String describe() {
        return "Linear(in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + (bias != null) + ")";
    }
}
