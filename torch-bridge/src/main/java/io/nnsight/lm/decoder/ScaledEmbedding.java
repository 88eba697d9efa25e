package io.nnsight.lm.decoder;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import io.nnsight.nn.internal.MetaKernels;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A token embedding whose vectors are multiplied by a constant, inside the module so that its output is what
 * the first layer reads: Gemma's {@code embed_tokens}, scaled by {@code sqrt(hidden_size)} rounded to the
 * weights' type (transformers' {@code Gemma2TextScaledWordEmbedding}).
 */
public final class ScaledEmbedding extends HookedModule implements TensorModule {
    private final Tensor weight;
    private final double scale;
    private final Scalar scaleInWeightsType;

    /**
     * An embedding over an existing tensor, registered as its {@code weight}.
     *
     * @param weight shape {@code [count, dimension]}
     */
    public ScaledEmbedding(Tensor weight, double scale) {
        this.weight = registerParameter("weight", weight);
        this.scale = scale;
        try (Tensor rounded = torch.scalar_tensor(new Scalar(scale)).to(weight.scalar_type())) {
            this.scaleInWeightsType = persistent(new Scalar(rounded.item_double()));
        }
    }

    @Override
    public Tensor forward(Tensor ids) {
        return hooked(ids, i -> MetaKernels.embedding(weight, i).mul(scaleInWeightsType));
    }

    /** The table, shape {@code [count, dimension]}. */
    public Tensor weight() {
        return weight;
    }

    @Override
    public String describe() {
        return "ScaledEmbedding(" + weight.size(0) + ", " + weight.size(1) + ", scale=" + scale + ")";
    }
}
