package io.nnsight.lm.decoder;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Gemma's RMS norm: {@code x / sqrt(mean(x^2) + eps) * (1 + weight)}, computed in float32 and returned in the
 * input's type (transformers' {@code Gemma2RMSNorm}). Its weight is stored centred on 0: a checkpoint's zeros
 * mean a scale of 1.
 */
public final class UnitOffsetRMSNorm extends HookedModule implements TensorModule {
    private static final Scalar ONE = persistent(new Scalar(1.0));

    private final long[] shape;
    private final double eps;
    private final Tensor weight;
    private final DoubleOptional optionalEps;

    /**
     * A norm over an existing tensor, registered as its {@code weight}.
     *
     * @param weight the scale minus 1, shape {@code [dimension]}
     */
    public UnitOffsetRMSNorm(Tensor weight, double eps) {
        this.shape = new long[] {weight.size(0)};
        this.eps = eps;
        this.weight = registerParameter("weight", weight);
        this.optionalEps = persistent(new DoubleOptional(eps));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::compute);
    }

    private Tensor compute(Tensor x) {
        Tensor scale = weight.to(torch.ScalarType.Float).add(ONE);
        return torch.rms_norm(x.to(torch.ScalarType.Float), shape, new TensorOptional(scale), optionalEps)
                .to(x.scalar_type());
    }

    /** The scale minus 1, shape {@code [dimension]}. */
    public Tensor weight() {
        return weight;
    }

    @Override
    public String describe() {
        return "RMSNorm((" + shape[0] + ",), eps=" + eps + ", scale=1+weight)";
    }
}
