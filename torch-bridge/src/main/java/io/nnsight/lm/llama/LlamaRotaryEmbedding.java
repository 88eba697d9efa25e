package io.nnsight.lm.llama;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Rotary position embeddings: for position ids {@code [batch, tokens]}, the cosines and sines {@code
 * [batch, tokens, head_dim]} that rotate queries and keys (Hugging Face's default rope).
 */
public final class LlamaRotaryEmbedding extends HookedModule {
    private final Tensor inverseFrequencies;
    private final int headDim;
    private final double theta;

    /** Embeddings for heads of {@code headDim} with base {@code theta}. */
    public LlamaRotaryEmbedding(int headDim, double theta) {
        this.headDim = headDim;
        this.theta = theta;
        Tensor exponents = torch.arange(new Scalar(0), new Scalar(headDim), new Scalar(2)).to(torch.ScalarType.Float)
                .div(new Scalar((double) headDim));
        this.inverseFrequencies = persistent(torch.pow(new Scalar(theta), exponents).reciprocal());
    }

    /** The cosines and sines for {@code positionIds}; the list is {@code [cos, sin]}. */
    @SuppressWarnings("unchecked")
    public List<Tensor> forward(Tensor hidden, Tensor positionIds) {
        return (List<Tensor>) hooked(Inputs.of(hidden, positionIds), in -> {
            Tensor positions = in.tensor(1).to(torch.ScalarType.Float).unsqueeze(-1);
            Tensor frequencies = positions.mul(inverseFrequencies.unsqueeze(0).unsqueeze(0));
            Tensor angles = torch.cat(new org.bytedeco.pytorch.TensorVector(frequencies, frequencies), -1);
            return List.of(angles.cos(), angles.sin());
        });
    }

    @Override
    public String describe() {
        return "LlamaRotaryEmbedding(head_dim=" + headDim + ", theta=" + theta + ")";
    }
}
