package io.nnsight.lm.gpt2;

import io.nnsight.Inputs;
import io.nnsight.lm.KvCache;
import io.nnsight.lm.internal.Attention;
import io.nnsight.nn.Conv1D;
import io.nnsight.nn.Dropout;
import io.nnsight.nn.HookedModule;
import org.bytedeco.pytorch.Tensor;

/**
 * GPT-2's self-attention: {@code c_attn} makes queries, keys and values in one projection, {@code c_proj}
 * mixes the heads. As in Hugging Face's scaled dot-product path, {@code attn_dropout} is part of the tree
 * but not called (the attention weights are never materialised). Inputs: {@code hidden_states} (positional), and by name {@code attention_mask} (the
 * additive mask, or null for plain causal attention) and {@code past_key_values}.
 */
public final class GPT2Attention extends HookedModule {
    private final int layer;
    private final int heads;
    private final long embedding;
    private final Conv1D cAttn;
    private final Conv1D cProj;
    private final Dropout attnDropout;
    private final Dropout residDropout;

    /** The attention of block {@code layer}. */
    public GPT2Attention(Gpt2Config config, int layer) {
        this.layer = layer;
        this.heads = config.heads();
        this.embedding = config.embedding();
        this.cAttn = register("c_attn", new Conv1D(embedding, 3 * embedding));
        this.cProj = register("c_proj", new Conv1D(embedding, embedding));
        this.attnDropout = register("attn_dropout", new Dropout(config.dropout()));
        this.residDropout = register("resid_dropout", new Dropout(config.dropout()));
    }

    /** Runs the attention; see the class description for the inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    private Tensor compute(Inputs in) {
        Tensor hidden = in.tensor(0);
        long batch = hidden.size(0);
        long tokens = hidden.size(1);
        Tensor projected = cAttn.forward(hidden);
        Tensor query = heads(projected.narrow(-1, 0, embedding), batch, tokens);
        Tensor key = heads(projected.narrow(-1, embedding, embedding), batch, tokens);
        Tensor value = heads(projected.narrow(-1, 2 * embedding, embedding), batch, tokens);
        Tensor[] cached = Attention.cached((KvCache) in.get("past_key_values"), layer, key, value);
        Tensor attended = Attention.attend(query, cached[0], cached[1], in.tensor("attention_mask"));
        return residDropout.forward(cProj.forward(attended));
    }

    private Tensor heads(Tensor projected, long batch, long tokens) {
        return projected.reshape(batch, tokens, heads, embedding / heads).transpose(1, 2);
    }
}
