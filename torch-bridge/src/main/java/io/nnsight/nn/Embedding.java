package io.nnsight.nn;

import io.nnsight.nn.internal.MetaKernels;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** A lookup table of {@code count} vectors of size {@code dimension}, like PyTorch's {@code nn.Embedding}. */
public final class Embedding extends HookedModule implements TensorModule {
    private final long count;
    private final long dimension;
    private final Tensor weight;

    /** A table initialised from the standard normal distribution. */
    public Embedding(long count, long dimension) {
        this.count = count;
        this.dimension = dimension;
        this.weight = registerParameter("weight", torch.randn(count, dimension));
    }

    /**
     * A table over an existing tensor, which it registers as its {@code weight}: a model's embedding, made by
     * the model and loaded from a checkpoint.
     *
     * @param weight shape {@code [count, dimension]}
     */
    public Embedding(Tensor weight) {
        this.count = weight.size(0);
        this.dimension = weight.size(1);
        this.weight = registerParameter("weight", weight);
    }

    /** Looks up the vectors of the ids in {@code ids} (an integer tensor of any shape). */
    @Override
    public Tensor forward(Tensor ids) {
        return hooked(ids, i -> MetaKernels.embedding(weight, i));
    }

    /** The table, shape {@code [count, dimension]}. */
    public Tensor weight() {
        return weight;
    }

    @Override
    public String describe() {
        return "Embedding(" + count + ", " + dimension + ")";
    }
}
