package io.nnsight.nn;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * GPT-2's linear layer with its weight stored transposed: {@code y = x W + b} with {@code weight} of shape
 * {@code [in, out]}, as in Hugging Face's {@code Conv1D} (so GPT-2 checkpoints load unchanged).
 */
public final class Conv1D extends HookedModule implements TensorModule {
    private final long inFeatures;
    private final long outFeatures;
    private final Tensor weight;
    private final Tensor bias;

    /** A layer from {@code inFeatures} to {@code outFeatures}, initialised like Hugging Face's (normal, std 0.02). */
    public Conv1D(long inFeatures, long outFeatures) {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = registerParameter("weight", torch.randn(inFeatures, outFeatures).mul_(new org.bytedeco.pytorch.Scalar(0.02)));
        this.bias = registerParameter("bias", torch.zeros(outFeatures));
    }

    /**
     * A layer over existing tensors, which it registers as its parameters: a model's weights, made by the
     * model (uninitialised, on its device and in its type) and loaded from a checkpoint.
     *
     * @param weight shape {@code [in, out]}
     * @param bias shape {@code [out]}
     */
    public Conv1D(Tensor weight, Tensor bias) {
        this.inFeatures = weight.size(0);
        this.outFeatures = weight.size(1);
        this.weight = registerParameter("weight", weight);
        this.bias = registerParameter("bias", bias);
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> torch.matmul(x, weight).add_(bias));
    }

    /** The weight, shape {@code [in, out]}. */
    public Tensor weight() {
        return weight;
    }

    /** The bias, shape {@code [out]}. */
    public Tensor bias() {
        return bias;
    }

    @Override
    public String describe() {
        return "Conv1D(nf=" + outFeatures + ", nx=" + inFeatures + ")";
    }
}
