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

    /** The number of tokens cached (0 for an empty cache). */
    public long length() {
        Tensor first = keys.get(0);
        return first == null ? 0 : first.size(2);
    }

    @Override
    public String toString() {
        return "KvCache(" + keys.size() + " layers, " + length() + " tokens)";
    }
}
