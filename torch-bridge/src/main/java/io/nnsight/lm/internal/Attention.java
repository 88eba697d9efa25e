package io.nnsight.lm.internal;

import io.nnsight.lm.KvCache;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** What decoder models share: attention masks, positions from padding, and scaled dot-product attention. */
public final class Attention {
    private Attention() {}

    /**
     * The additive attention mask, shape {@code [batch, 1, tokens, past + tokens]}: 0 where a query may
     * attend (a key at or before it, not padding), the float minimum elsewhere (not {@code -inf}, so that
     * the rows of padding tokens, which may attend to nothing, stay finite). {@code null} when plain causal
     * attention is enough (no padding, nothing cached).
     *
     * @param paddingMask shape {@code [batch, past + tokens]}, 1 for real tokens and 0 for padding, or null
     */
    public static Tensor causalMask(Tensor paddingMask, long tokens, long past) {
        if (past == 0 && (paddingMask == null || torch.all(paddingMask).item_bool())) {
            return null;
        }
        long total = past + tokens;
        Tensor keyPositions = torch.arange(new Scalar(total)).unsqueeze(0);
        Tensor queryPositions = torch.arange(new Scalar(tokens)).add(new Scalar(past)).unsqueeze(1);
        Tensor allowed = keyPositions.le(queryPositions).unsqueeze(0).unsqueeze(0);
        if (paddingMask != null) {
            allowed = allowed.logical_and(paddingMask.to(torch.ScalarType.Bool).unsqueeze(1).unsqueeze(1));
        }
        Tensor zeros = torch.zeros(new long[] {1});
        return torch.where(allowed, zeros, torch.full(new long[] {1}, new Scalar(-Float.MAX_VALUE)));
    }

    /**
     * Position ids from the padding mask, as Hugging Face's generation computes them: each row counts its
     * real tokens from 0 (padding gets 1), and the last {@code tokens} columns are returned.
     */
    public static Tensor positions(Tensor paddingMask, long batch, long tokens, long past) {
        if (paddingMask == null) {
            return torch.arange(new Scalar(past), new Scalar(past + tokens)).unsqueeze(0).expand(batch, tokens);
        }
        Tensor counted = paddingMask.to(torch.ScalarType.Long).cumsum(-1).sub(new Scalar(1));
        counted = counted.masked_fill(paddingMask.eq(new Scalar(0)), new Scalar(1));
        long total = counted.size(1);
        return counted.narrow(1, total - tokens, tokens);
    }

    /**
     * Attention over {@code [batch, heads, tokens, head_dim]} queries; keys and values may have fewer
     * heads (grouped-query attention), which are repeated to match. Returns {@code [batch, tokens, heads *
     * head_dim]}.
     *
     * @param mask from {@link #causalMask}, or {@code null} for plain causal attention
     */
    public static Tensor attend(Tensor query, Tensor key, Tensor value, Tensor mask) {
        long heads = query.size(1);
        long groups = heads / key.size(1);
        if (groups > 1) {
            key = key.repeat_interleave(groups, new LongOptional(1), new LongOptional());
            value = value.repeat_interleave(groups, new LongOptional(1), new LongOptional());
        }
        boolean causal = mask == null && query.size(2) > 1;
        Tensor out = torch.scaled_dot_product_attention(query, key, value,
                mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0, causal, new DoubleOptional(), false);
        return out.transpose(1, 2).contiguous().reshape(query.size(0), query.size(2), heads * query.size(3));
    }

    /** Appends keys and values to the cache, if there is one; returns the keys and values to attend over. */
    public static Tensor[] cached(KvCache cache, int layer, Tensor key, Tensor value) {
        return cache == null ? new Tensor[] {key, value} : cache.update(layer, key, value);
    }

    /** The number of tokens a cache holds; 0 without a cache. */
    public static long past(KvCache cache) {
        return cache == null ? 0 : cache.length();
    }
}
