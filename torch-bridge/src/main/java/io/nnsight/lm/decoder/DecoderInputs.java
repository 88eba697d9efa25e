package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.lm.KvCache;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * What a decoder's forward reads from its named inputs, with what transformers derives from them when they are
 * not given: positions counted from each row's first real token and after the cached tokens, and the masks.
 *
 * @param ids {@code input_ids}, {@code [batch, tokens]}
 * @param cache {@code past_key_values}, or {@code null}
 * @param positions {@code position_ids}, given or derived, {@code [batch, tokens]}
 * @param masks the attention masks of the layers' windows
 */
record DecoderInputs(Tensor ids, KvCache cache, Tensor positions, AttentionMasks masks) {
    private static final Scalar ONE = Placement.kept(new Scalar(1));

    /** Reads {@code input_ids}, {@code attention_mask}, {@code past_key_values} and {@code position_ids}. */
    static DecoderInputs read(Inputs in, Placement placement) {
        Tensor ids = in.tensor("input_ids");
        if (ids == null) {
            throw new IllegalArgumentException("a decoder's inputs name its token ids \"input_ids\"; got " + in);
        }
        Tensor padding = in.tensor("attention_mask");
        KvCache cache = (KvCache) in.get("past_key_values");
        long tokens = ids.size(1);
        long past = cache == null ? 0 : cache.length();
        AttentionMasks masks = new AttentionMasks(padding, tokens, past, placement);
        Tensor positions = in.tensor("position_ids");
        if (positions == null) {
            // a mask of ones over every position counts them as arange does
            boolean counts = padding != null && (masks.padded() || padding.size(1) != past + tokens);
            positions = positions(counts ? padding : null, ids.size(0), tokens, past, placement);
        }
        return new DecoderInputs(ids, cache, positions, masks);
    }

    /**
     * Position ids from the padding mask, as transformers' generation computes them: each row counts its real
     * tokens from 0 (padding gets 1), and the last {@code tokens} columns are returned; without a mask, the
     * positions from {@code past} on.
     */
    private static Tensor positions(Tensor padding, long batch, long tokens, long past, Placement placement) {
        if (padding == null) {
            return torch.arange(new Scalar(past), new Scalar(past + tokens), placement.longs()).unsqueeze(0)
                    .expand(batch, tokens);
        }
        Tensor counted = padding.to(torch.ScalarType.Long).cumsum(-1).sub(ONE);
        counted = counted.masked_fill(padding.eq(new Scalar(0)), ONE);
        return counted.narrow(1, counted.size(1) - tokens, tokens);
    }
}
