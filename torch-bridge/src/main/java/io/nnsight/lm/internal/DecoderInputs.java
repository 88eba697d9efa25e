package io.nnsight.lm.internal;

import io.nnsight.Inputs;
import io.nnsight.lm.KvCache;
import org.bytedeco.pytorch.Tensor;

/**
 * What a decoder model's forward reads from its named inputs, with what transformers derives from them when they
 * are not given: positions counted from each row's first real token and after the cached tokens, and the causal
 * attention mask over cache and padding.
 *
 * @param ids {@code input_ids}, {@code [batch, tokens]}
 * @param cache {@code past_key_values}, or {@code null}
 * @param positions {@code position_ids}, given or derived, {@code [batch, tokens]}
 * @param mask the additive attention mask of {@link Attention#causalMask}, or {@code null} for plain causal
 *     attention
 */
public record DecoderInputs(Tensor ids, KvCache cache, Tensor positions, Tensor mask) {
    /** Reads {@code input_ids}, {@code attention_mask}, {@code past_key_values} and {@code position_ids}. */
    public static DecoderInputs read(Inputs in) {
        Tensor ids = in.tensor("input_ids");
        Tensor paddingMask = in.tensor("attention_mask");
        KvCache cache = (KvCache) in.get("past_key_values");
        long tokens = ids.size(1);
        long past = Attention.past(cache);
        Tensor positions = in.tensor("position_ids");
        if (positions == null) {
            positions = Attention.positions(paddingMask, ids.size(0), tokens, past);
        }
        return new DecoderInputs(ids, cache, positions, Attention.causalMask(paddingMask, tokens, past));
    }
}
