package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.lm.KvCache;
import io.nnsight.nn.Dropout;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import io.nnsight.nn.internal.MetaKernels;
import java.util.List;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Causal self-attention with the options by which families differ: separate or fused projections, biases,
 * grouped-query attention (fewer key and value heads than query heads), RMS norms on each head's queries and
 * keys, full or partial rotary positions, a sliding window, soft-capped scores, and the key/value cache. Its
 * output is the attention's output after the output projection, {@code [batch, tokens, hidden]}.
 *
 * <p>Inputs: {@code hidden_states} (positional), and by name {@code position_embeddings} ({@code [cos, sin]}
 * from {@link RotaryEmbedding}, absent with learned positions), {@code attention_mask} (this layer's additive
 * mask, or {@code null} for plain causal attention) and {@code past_key_values} (a {@link KvCache}, or
 * {@code null}).
 *
 * <p>The probabilities are the child {@link AttentionProbs} ({@code attention_probs}), computed only when a
 * trace's body waits for them, the scores are soft-capped, the heads have sinks ({@code sinks}, GPT-OSS) or the model
 * is on the meta device (a scan) ("eager" attention); otherwise libtorch's fused scaled-dot-product attention runs.
 */
public final class SelfAttention extends HookedModule {
    private final DecoderSpec spec;
    private final int layer;
    private final int heads;
    private final int keyValueHeads;
    private final int headDim;
    private final int rotatedDims;
    private final TensorModule query;
    private final TensorModule key;
    private final TensorModule value;
    private final TensorModule fused;
    private final TensorModule output;
    private final TensorModule queryNorm;
    private final TensorModule keyNorm;
    /** Each head's attention sink {@code [heads]}, or {@code null}. */
    private final Tensor sinks;
    private final AttentionProbs probabilities;
    private final Dropout probabilitiesDropout;
    private final Dropout outputDropout;
    private final Placement placement;
    private final Scalar scaling;
    private final DoubleOptional fusedScaling;
    private final Scalar softcap;
    private final Tensor halfSigns;
    private final TensorOptional noMask = persistent(new TensorOptional());
    private final LongOptional headsDim = persistent(new LongOptional(1));
    private final LongOptional noLength = persistent(new LongOptional());
    /** The bounds queries, keys and values are clipped to, or {@code null}. */
    private final ScalarOptional clip;
    private final ScalarOptional negativeClip;

    /** The attention of layer {@code layer}, its weights uninitialised until loaded. */
    public SelfAttention(DecoderSpec spec, int layer, Placement placement) {
        this.spec = spec;
        this.layer = layer;
        this.heads = spec.heads;
        this.keyValueHeads = spec.keyValueHeads;
        this.headDim = spec.headDim;
        this.rotatedDims = spec.ropeOf(layer) == null ? 0 : spec.ropeOf(layer).rotatedDims(headDim);
        this.clip = spec.clipQkv == null ? null : persistent(new ScalarOptional(persistent(new Scalar(spec.clipQkv))));
        this.negativeClip = spec.clipQkv == null ? null
                : persistent(new ScalarOptional(persistent(new Scalar(-spec.clipQkv))));
        this.placement = placement;
        long hidden = spec.hiddenSize;
        long queries = (long) heads * headDim;
        long keys = (long) keyValueHeads * headDim;
        if (spec.qkvLayout == DecoderSpec.QkvLayout.SEPARATE) {
            List<String> names = spec.qkvNames;
            this.query = child(names.get(0), spec.projection(hidden, queries, spec.qkvBias, placement));
            this.key = child(names.get(1), spec.projection(hidden, keys, spec.qkvBias, placement));
            this.value = child(names.get(2), spec.projection(hidden, keys, spec.qkvBias, placement));
            this.fused = null;
        } else {
            this.query = null;
            this.key = null;
            this.value = null;
            this.fused = child(spec.qkvNames.get(0), spec.projection(hidden, queries + 2 * keys, spec.qkvBias, placement));
        }
        this.output = child(spec.attentionOutput, spec.projection(queries, hidden, spec.outputBias, placement));
        this.queryNorm = spec.queryNorm == null ? null
                : child(spec.queryNorm, spec.norm.create(spec.projectionNorms ? queries : headDim, placement));
        this.keyNorm = spec.keyNorm == null ? null
                : child(spec.keyNorm, spec.norm.create(spec.projectionNorms ? keys : headDim, placement));
        this.sinks = spec.attentionSinks ? registerParameter("sinks", placement.parameter(heads)) : null;
        this.probabilities = register("attention_probs", new AttentionProbs(sinks));
        this.probabilitiesDropout = spec.probabilitiesDropout == null ? null
                : register(spec.probabilitiesDropout, new Dropout(spec.dropout));
        this.outputDropout = spec.attentionOutputDropout == null ? null
                : register(spec.attentionOutputDropout, new Dropout(spec.dropout));
        this.scaling = persistent(new Scalar(spec.scalings[layer]));
        this.fusedScaling = persistent(new DoubleOptional(spec.scalings[layer]));
        this.softcap = spec.attentionSoftcap == null ? null : persistent(new Scalar(spec.attentionSoftcap));
        this.halfSigns = rotatedDims == 0 ? null : persistent(halfSigns(rotatedDims, placement));
    }

    /** {@code [-1, ..., -1, 1, ..., 1]} ({@code dims} values), which turn {@code sin} into {@code rotate_half}'s signs. */
    private static Tensor halfSigns(int dims, Placement placement) {
        Tensor signs = torch.ones(new long[] {dims}, placement.weights());
        signs.narrow(0, 0, dims / 2).fill_(new Scalar(-1));
        return signs;
    }

    /** Runs the attention; see the class description for the inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    @SuppressWarnings("unchecked")
    private Tensor compute(Inputs in) {
        Tensor hidden = in.tensor(0);
        long batch = hidden.size(0);
        long tokens = hidden.size(1);
        Tensor[] qkv = project(hidden, batch, tokens);
        Tensor queries = qkv[0];
        Tensor keys = qkv[1];
        if (queryNorm != null && spec.projectionNorms) { // over all heads at once
            queries = heads(queryNorm.forward(queries.reshape(batch, tokens, -1)), batch, tokens);
            keys = heads(keyNorm.forward(keys.reshape(batch, tokens, -1)), batch, tokens);
        } else if (queryNorm != null) {
            queries = queryNorm.forward(queries);
            keys = keyNorm.forward(keys);
        }
        Tensor values = qkv[2];
        if (clip != null) {
            queries = queries.clamp(negativeClip, clip);
            keys = keys.clamp(negativeClip, clip);
            values = values.clamp(negativeClip, clip);
        }
        queries = queries.transpose(1, 2);
        keys = keys.transpose(1, 2);
        values = values.transpose(1, 2);
        List<Tensor> rotary = (List<Tensor>) in.get("position_embeddings");
        if (rotary != null) {
            Tensor cos = rotary.get(0);
            Tensor sin = rotary.get(1);
            if (spec.halfRotaryOutput) { // the angles of one half: both halves turn by them
                cos = torch.cat(new TensorVector(cos, cos), -1);
                sin = torch.cat(new TensorVector(sin, sin), -1);
            }
            cos = cos.unsqueeze(1);
            Tensor signedSin = sin.mul(halfSigns).unsqueeze(1);
            queries = rotate(queries, cos, signedSin);
            keys = rotate(keys, cos, signedSin);
        }
        KvCache cache = (KvCache) in.get("past_key_values");
        if (cache != null) {
            Tensor[] all = cache.update(layer, keys, values);
            keys = all[0];
            values = all[1];
        }
        Tensor mask = in.tensor("attention_mask");
        boolean eager = softcap != null || sinks != null || probabilities.hookPoint().isAwaited() || placement.isMeta();
        Tensor attended = eager ? eager(queries, keys, values, mask) : fused(queries, keys, values, mask);
        attended = attended.transpose(1, 2).reshape(batch, tokens, (long) heads * headDim);
        Tensor out = output.forward(attended);
        return outputDropout == null ? out : outputDropout.forward(out);
    }

    /** Queries, keys and values, each {@code [batch, tokens, heads, head_dim]}. */
    private Tensor[] project(Tensor hidden, long batch, long tokens) {
        switch (spec.qkvLayout) {
            case SEPARATE:
                return new Tensor[] {heads(query.forward(hidden), batch, tokens), heads(key.forward(hidden), batch, tokens),
                    heads(value.forward(hidden), batch, tokens)};
            case CONCATENATED: {
                Tensor all = fused.forward(hidden);
                long queries = (long) heads * headDim;
                long keys = (long) keyValueHeads * headDim;
                return new Tensor[] {heads(all.narrow(-1, 0, queries), batch, tokens),
                    heads(all.narrow(-1, queries, keys), batch, tokens), heads(all.narrow(-1, queries + keys, keys), batch, tokens)};
            }
            default: {
                Tensor all = fused.forward(hidden).view(batch, tokens, heads, 3L * headDim);
                return new Tensor[] {all.narrow(-1, 0, headDim), all.narrow(-1, headDim, headDim),
                    all.narrow(-1, 2L * headDim, headDim)};
            }
        }
    }

    private Tensor heads(Tensor projected, long batch, long tokens) {
        return projected.reshape(batch, tokens, -1, headDim);
    }

    /**
     * {@code x * cos + rotate_half(x) * sin} on the first {@code rotatedDims} of each head, the rest unchanged, where
     * {@code rotate_half(x) = [-x2, x1]}: computed as {@code x * cos + [x2, x1] * [-sin1, sin2]} (a roll of the halves
     * and {@code sin} with the signs), the same values in fewer operations.
     */
    private Tensor rotate(Tensor x, Tensor cos, Tensor signedSin) {
        Tensor rotated = rotatedDims == headDim ? x : x.narrow(-1, 0, rotatedDims);
        Tensor result = rotated.mul(cos).add(MetaKernels.roll(rotated, new long[] {rotatedDims / 2}, new long[] {-1}).mul(signedSin));
        return rotatedDims == headDim ? result
                : torch.cat(new TensorVector(result, x.narrow(-1, rotatedDims, headDim - rotatedDims)), -1);
    }

    /**
     * libtorch's fused scaled-dot-product attention, {@code [batch, heads, tokens, head_dim]}, sharing each key and
     * value head among its group of query heads without copying them.
     */
    private Tensor fused(Tensor queries, Tensor keys, Tensor values, Tensor mask) {
        boolean causal = mask == null && queries.size(2) > 1;
        return torch.scaled_dot_product_attention(queries, keys, values, mask == null ? noMask : new TensorOptional(mask),
                0.0, causal, fusedScaling, keyValueHeads < heads);
    }

    /**
     * Attention with its probabilities, as transformers' eager attention: key and value heads repeated for their
     * groups, scores, soft-cap, mask, {@code attention_probs}, times the values.
     */
    private Tensor eager(Tensor queries, Tensor keys, Tensor values, Tensor mask) {
        if (keyValueHeads < heads) {
            keys = keys.repeat_interleave(heads / keyValueHeads, headsDim, noLength);
            values = values.repeat_interleave(heads / keyValueHeads, headsDim, noLength);
        }
        Tensor scores = queries.matmul(keys.transpose(2, 3)).mul(scaling);
        if (softcap != null) {
            scores = scores.div(softcap).tanh().mul(softcap);
        }
        if (mask == null && queries.size(2) > 1) {
            mask = AttentionMasks.causal(queries.size(2), keys.size(2) - queries.size(2), placement);
        }
        if (mask != null) {
            scores = scores.add(mask);
        }
        Tensor probs = probabilities.forward(scores);
        if (probabilitiesDropout != null) {
            probs = probabilitiesDropout.forward(probs);
        }
        return probs.matmul(values);
    }

    private TensorModule child(String name, HookedModule module) {
        return (TensorModule) register(name, module);
    }

    @Override
    public String describe() {
        return spec.family + "Attention(heads=" + heads + ", kv_heads=" + keyValueHeads + ", head_dim=" + headDim
                + (spec.windows[layer] > 0 ? ", sliding_window=" + spec.windows[layer] : "") + ")";
    }
}
