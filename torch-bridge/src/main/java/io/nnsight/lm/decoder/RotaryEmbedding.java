package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Rotary position embeddings ({@code rotary_emb}): for position ids {@code [batch, tokens]}, the cosines and
 * sines {@code [batch, tokens, rotated dims]} that rotate queries and keys, computed in float32 (and scaled by the
 * rope's {@linkplain Rope#attentionFactor attention factor}) and returned in the activations' type, as transformers'
 * {@code RotaryEmbedding} does. Inputs: the hidden states (for their
 * type) and the position ids; output: {@code [cos, sin]}.
 */
public final class RotaryEmbedding extends HookedModule {
    private final Rope rope;
    private final int headDim;
    private final Placement placement;
    private final Tensor inverseFrequencies;
    /** {@code longrope}'s frequencies past {@code original_max_position_embeddings}, else {@code null}. */
    private final Tensor longInverseFrequencies;

    /** The embeddings of heads of {@code headDim} dimensions, of which {@link Rope#rotatedDims} rotate. */
    public RotaryEmbedding(Rope rope, int headDim, Placement placement) {
        this.rope = rope;
        this.headDim = headDim;
        this.placement = placement;
        this.inverseFrequencies = persistent(rope.inverseFrequencies(headDim, 0, placement));
        this.longInverseFrequencies = rope.longRope() == null ? null
                : persistent(rope.inverseFrequencies(headDim, rope.originalMaxPositions() + 1L, placement));
    }

    /** The cosines and sines for {@code positionIds}; the list is {@code [cos, sin]}. */
    @SuppressWarnings("unchecked")
    public List<Tensor> forward(Tensor hidden, Tensor positionIds) {
        return (List<Tensor>) hooked(Inputs.of(hidden, positionIds), this::compute);
    }

    private List<Tensor> compute(Inputs in) {
        Tensor hidden = in.tensor(0);
        Tensor positions = in.tensor(1);
        Tensor inverse = inverseFrequencies;
        if (rope.dependsOnLength() && !positions.is_meta()) { // on the meta device (a scan) only the shape counts
            long length = positions.max().item_long() + 1;
            inverse = longInverseFrequencies == null ? rope.inverseFrequencies(headDim, length, placement) // dynamic
                    : length > rope.originalMaxPositions() ? longInverseFrequencies : inverseFrequencies;
        }
        Tensor frequencies = positions.to(torch.ScalarType.Float).unsqueeze(-1).mul(inverse);
        Tensor angles = torch.cat(new TensorVector(frequencies, frequencies), -1);
        Tensor cos = angles.cos();
        Tensor sin = angles.sin();
        double scaling = rope.attentionFactor();
        if (scaling != 1.0) { // yarn, longrope: as transformers, in float32 before the cast
            cos = cos.mul(new Scalar(scaling));
            sin = sin.mul(new Scalar(scaling));
        }
        return List.of(cos.to(hidden.scalar_type()), sin.to(hidden.scalar_type()));
    }

    @Override
    public String describe() {
        return "RotaryEmbedding(type=" + rope.type() + ", theta=" + rope.theta() + ", dims=" + rope.rotatedDims(headDim) + ")";
    }
}
