package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Rotary position embeddings ({@code rotary_emb}): for position ids {@code [batch, tokens]}, the cosines and
 * sines {@code [batch, tokens, rotated dims]} that rotate queries and keys, computed in float32 (and scaled by the
 * rope's {@linkplain Rope#attentionFactor attention factor}) and returned in the activations' type, as transformers'
 * {@code RotaryEmbedding} does. Inputs: the hidden states (for their type), the position ids and, in a model whose
 * layer types rotate differently (Gemma 3), the layer type ({@code full_attention}, {@code sliding_attention}: the
 * module then runs once per type in each forward pass, full layers' first); output: {@code [cos, sin]}. Each half of
 * the rotated dimensions turns by the same angles: the output repeats them for both halves, or, as GPT-OSS's does,
 * gives them once ({@code [batch, tokens, rotated dims / 2]}).
 */
public final class RotaryEmbedding extends HookedModule {
    private final int headDim;
    /** Whether the output gives the angles of one half of the rotated dimensions only. */
    private final boolean half;
    private final Placement placement;
    private final Map<String, Frequencies> byLayerType;

    /** One layer type's rotation and its inverse frequencies, made once unless they depend on the length. */
    private record Frequencies(Rope rope, Tensor inverse, Tensor longInverse) {
        /** The inverse frequencies for positions up to {@code length} (for {@code dynamic}, recomputed). */
        Tensor forLength(long length, int headDim, Placement placement) {
            if (longInverse != null) { // longrope: its long factors past the original context
                return length > rope.originalMaxPositions() ? longInverse : inverse;
            }
            return rope.inverseFrequencies(headDim, length, placement);
        }
    }

    /**
     * The embeddings of heads of {@code headDim} dimensions, of which {@link Rope#rotatedDims} rotate: one rope per
     * layer type, in the order the model computes them; a model whose layers all rotate alike gives one, under any
     * key, and calls {@link #forward(Tensor, Tensor)}.
     *
     * @param half whether the cosines and sines cover one half of the rotated dimensions (else both, repeated)
     */
    public RotaryEmbedding(Map<String, Rope> byLayerType, int headDim, boolean half, Placement placement) {
        if (byLayerType.isEmpty()) {
            throw new IllegalArgumentException("a rotary embedding needs a rope");
        }
        this.headDim = headDim;
        this.half = half;
        this.placement = placement;
        this.byLayerType = new LinkedHashMap<>();
        byLayerType.forEach((type, rope) -> this.byLayerType.put(type, new Frequencies(rope,
                persistent(rope.inverseFrequencies(headDim, 0, placement)), rope.longRope() == null ? null
                        : persistent(rope.inverseFrequencies(headDim, rope.originalMaxPositions() + 1L, placement)))));
    }

    /** The cosines and sines for {@code positionIds}, of a model whose layers all rotate alike; the list is {@code [cos, sin]}. */
    @SuppressWarnings("unchecked")
    public List<Tensor> forward(Tensor hidden, Tensor positionIds) {
        return (List<Tensor>) hooked(Inputs.of(hidden, positionIds), this::compute);
    }

    /** The cosines and sines for {@code positionIds} in the layers of {@code layerType}; the list is {@code [cos, sin]}. */
    @SuppressWarnings("unchecked")
    public List<Tensor> forward(Tensor hidden, Tensor positionIds, String layerType) {
        return (List<Tensor>) hooked(Inputs.of(hidden, positionIds, layerType), this::compute);
    }

    private List<Tensor> compute(Inputs in) {
        Tensor hidden = in.tensor(0);
        Tensor positions = in.tensor(1);
        Frequencies frequencies = frequencies(in.size() > 2 ? (String) in.get(2) : null);
        Rope rope = frequencies.rope();
        Tensor inverse = frequencies.inverse();
        if (rope.dependsOnLength() && !positions.is_meta()) { // on the meta device (a scan) only the shape counts
            inverse = frequencies.forLength(positions.max().item_long() + 1, headDim, placement);
        }
        Tensor angles = positions.to(torch.ScalarType.Float).unsqueeze(-1).mul(inverse);
        if (!half) {
            angles = torch.cat(new TensorVector(angles, angles), -1);
        }
        Tensor cos = angles.cos();
        Tensor sin = angles.sin();
        double scaling = rope.attentionFactor();
        if (scaling != 1.0) { // yarn, longrope: as transformers, in float32 before the cast
            cos = cos.mul(new Scalar(scaling));
            sin = sin.mul(new Scalar(scaling));
        }
        return List.of(cos.to(hidden.scalar_type()), sin.to(hidden.scalar_type()));
    }

    private Frequencies frequencies(String layerType) {
        if (layerType == null) {
            if (byLayerType.size() != 1) {
                throw new IllegalArgumentException("rotary_emb rotates each layer type its own way: its third input "
                        + "is the layer type, one of " + byLayerType.keySet());
            }
            return byLayerType.values().iterator().next();
        }
        Frequencies frequencies = byLayerType.get(layerType);
        if (frequencies == null) {
            throw new IllegalArgumentException("rotary_emb has no rotation for layers of type '" + layerType
                    + "'; it has: " + byLayerType.keySet());
        }
        return frequencies;
    }

    @Override
    public String describe() {
        if (byLayerType.size() == 1) {
            return "RotaryEmbedding(" + describe(byLayerType.values().iterator().next().rope()) + ")";
        }
        return "RotaryEmbedding(" + byLayerType.entrySet().stream()
                .map(entry -> entry.getKey() + ": " + describe(entry.getValue().rope()))
                .collect(Collectors.joining("; ")) + ")";
    }

    private String describe(Rope rope) {
        return "type=" + rope.type() + ", theta=" + rope.theta() + ", dims=" + rope.rotatedDims(headDim);
    }
}
