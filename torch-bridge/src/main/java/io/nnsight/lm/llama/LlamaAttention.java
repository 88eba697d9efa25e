package io.nnsight.lm.llama;

import io.nnsight.Inputs;
import io.nnsight.lm.KvCache;
import io.nnsight.lm.internal.Attention;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Llama's self-attention: rotary positions on queries and keys, grouped-query attention (fewer key and
 * value heads than query heads), and the key/value cache. Its output is the attention output after
 * {@code o_proj} (the attention weights are not computed: the attention is scaled dot-product).
 *
 * <p>Inputs: {@code hidden_states} (positional), and by name {@code position_embeddings} ({@code [cos,
 * sin]}), {@code attention_mask} (the additive mask, or null for plain causal attention) and {@code
 * past_key_values} (a {@link KvCache}, or null).
 */
public final class LlamaAttention extends HookedModule {
    private final int layer;
    private final int heads;
    private final int keyValueHeads;
    private final int headDim;
    private final Linear qProj;
    private final Linear kProj;
    private final Linear vProj;
    private final Linear oProj;

    /** The attention of layer {@code layer}. */
    public LlamaAttention(LlamaConfig config, int layer) {
        this.layer = layer;
        this.heads = config.heads();
        this.keyValueHeads = config.keyValueHeads();
        this.headDim = config.headDim();
        long hidden = config.hiddenSize();
        this.qProj = register("q_proj", new Linear(hidden, (long) heads * headDim, config.attentionBias()));
        this.kProj = register("k_proj", new Linear(hidden, (long) keyValueHeads * headDim, config.attentionBias()));
        this.vProj = register("v_proj", new Linear(hidden, (long) keyValueHeads * headDim, config.attentionBias()));
        this.oProj = register("o_proj", new Linear((long) heads * headDim, hidden, config.attentionBias()));
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
        List<Tensor> rotary = (List<Tensor>) in.get("position_embeddings");
        Tensor query = heads(qProj.forward(hidden), batch, tokens, heads);
        Tensor key = heads(kProj.forward(hidden), batch, tokens, keyValueHeads);
        Tensor value = heads(vProj.forward(hidden), batch, tokens, keyValueHeads);
        Tensor cos = rotary.get(0).unsqueeze(1);
        Tensor sin = rotary.get(1).unsqueeze(1);
        query = rotate(query, cos, sin);
        key = rotate(key, cos, sin);
        Tensor[] cached = Attention.cached((KvCache) in.get("past_key_values"), layer, key, value);
        Tensor attended = Attention.attend(query, cached[0], cached[1], in.tensor("attention_mask"));
        return oProj.forward(attended);
    }

    private Tensor heads(Tensor projected, long batch, long tokens, int count) {
        return projected.view(batch, tokens, count, headDim).transpose(1, 2);
    }

    /** {@code x * cos + rotate_half(x) * sin}, where {@code rotate_half} swaps the halves and negates the second. */
    private Tensor rotate(Tensor x, Tensor cos, Tensor sin) {
        long half = headDim / 2;
        Tensor first = x.narrow(-1, 0, half);
        Tensor second = x.narrow(-1, half, half);
        Tensor rotated = torch.cat(new TensorVector(second.neg(), first), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }
}
