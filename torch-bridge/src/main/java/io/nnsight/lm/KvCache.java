package io.nnsight.lm;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The keys and values a decoder's attention layers computed for the tokens seen so far, so that each
 * generation step runs only the new token (Hugging Face's {@code DynamicCache}). Passed to a model as
 * its {@code past_key_values} input; the attention layers append to it.
 *
 * <p>A generation's body reads it from an attention layer's (or the model's) inputs, as it stands before that
 * layer appends the step's token:
 *
 * <pre>{@code
 * lm.generate(prompt, Generation.maxNewTokens(5), tr -> {
 *     for (int step : tr.iter(Steps.at(3))) {
 *         KvCache cache = (KvCache) lm.get("model.layers.2.self_attn").inputs().get("past_key_values");
 *         Tensor keys = cache.keys(2);     // [batch, kv_heads, tokens so far, head_dim], rotary positions applied
 *         Tensor values = cache.values(2); // as the layer's v_proj gave them
 *     }
 *     return null;
 * });
 * }</pre>
 *
 * <p>The tensors are the cache's own: changing them in place changes what later steps attend to. A generation
 * served in a continuous batch whose body reads the cache runs alone, since the batch's cache holds other jobs'
 * rows.
 */
public final class KvCache {
    private final List<Tensor> keys;
    private final List<Tensor> values;

    /** An empty cache for a model of {@code layers} attention layers. */
    public KvCache(int layers) {
        this.keys = new ArrayList<>(layers);
        this.values = new ArrayList<>(layers);
        for (int i = 0; i < layers; i++) {
            keys.add(null);
            values.add(null);
        }
    }

    /**
     * Appends one layer's keys and values (shape {@code [batch, heads, tokens, head_dim]}) and returns the
     * layer's keys and values for all tokens so far.
     */
    public Tensor[] update(int layer, Tensor key, Tensor value) {
        Tensor allKeys = keys.get(layer) == null ? key : torch.cat(new TensorVector(keys.get(layer), key), 2);
        Tensor allValues = values.get(layer) == null ? value : torch.cat(new TensorVector(values.get(layer), value), 2);
        keys.set(layer, allKeys);
        values.set(layer, allValues);
        return new Tensor[] {allKeys, allValues};
    }

    /**
     * This cache's rows and then {@code other}'s, in one new cache: the shorter one's keys and values are left-padded
     * with zeros to the longer one's length (a generation's attention mask must hide those columns), so each row keeps
     * its tokens, last at the right. How a generation joining a continuous batch adds its rows to the batch's cache.
     *
     * @throws IllegalArgumentException when the two caches have other numbers of layers, or one is empty
     */
    public KvCache concat(KvCache other) {
        if (other.keys.size() != keys.size() || length() == 0 || other.length() == 0) {
            throw new IllegalArgumentException("cannot concatenate " + this + " and " + other
                    + ": both must hold tokens of the same layers");
        }
        long length = Math.max(length(), other.length());
        KvCache joined = new KvCache(keys.size());
        for (int layer = 0; layer < keys.size(); layer++) {
            joined.keys.set(layer, torch.cat(new TensorVector(padLeft(keys.get(layer), length),
                    padLeft(other.keys.get(layer), length)), 0));
            joined.values.set(layer, torch.cat(new TensorVector(padLeft(values.get(layer), length),
                    padLeft(other.values.get(layer), length)), 0));
        }
        return joined;
    }

    private static Tensor padLeft(Tensor cached, long length) {
        long missing = length - cached.size(2);
        if (missing == 0) {
            return cached;
        }
        long[] shape = cached.sizes().vec().get();
        shape[2] = missing;
        return torch.cat(new TensorVector(torch.zeros(shape, cached.options()), cached), 2);
    }

    /**
     * A new cache of the rows {@code rows} (a 1-D integer tensor of row indices) of this one, from token {@code
     * from} on: how a continuous batch drops the rows of a generation that left, and the columns every remaining
     * row has only as padding.
     */
    public KvCache select(Tensor rows, long from) {
        KvCache kept = new KvCache(keys.size());
        long length = length() - from;
        for (int layer = 0; layer < keys.size(); layer++) {
            if (keys.get(layer) != null) {
                kept.keys.set(layer, keys.get(layer).narrow(2, from, length).index_select(0, rows));
                kept.values.set(layer, values.get(layer).narrow(2, from, length).index_select(0, rows));
            }
        }
        return kept;
    }

    /**
     * The keys cached for attention layer {@code layer}, {@code [batch, kv_heads, tokens, head_dim]} with the
     * rotary positions applied, or {@code null} before the layer's first step.
     *
     * @throws IndexOutOfBoundsException when the model has no such layer
     */
    public Tensor keys(int layer) {
        return keys.get(checked(layer));
    }

    /**
     * The values cached for attention layer {@code layer}, {@code [batch, kv_heads, tokens, head_dim]}, or {@code
     * null} before the layer's first step.
     *
     * @throws IndexOutOfBoundsException when the model has no such layer
     */
    public Tensor values(int layer) {
        return values.get(checked(layer));
    }

    private int checked(int layer) {
        if (layer < 0 || layer >= keys.size()) {
            throw new IndexOutOfBoundsException("no attention layer " + layer + " in " + this + ": layers are 0 to "
                    + (keys.size() - 1));
        }
        return layer;
    }

    /**
     * The number of tokens cached (0 for an empty cache): the first layer's, which during a step holds the step's
     * tokens before the later layers do.
     */
    public long length() {
        Tensor first = keys.get(0);
        return first == null ? 0 : first.size(2);
    }

    @Override
    public String toString() {
        return "KvCache(" + keys.size() + " layers, " + length() + " tokens)";
    }
}
