package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Steps;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Reading a generation's {@link KvCache} from a body, on stories260K (4 key/value heads of 8 dimensions): after the
 * prompt's pass, each layer's values are its {@code v_proj} output and its keys its {@code k_proj} output rotated by
 * the positions' {@code rotary_emb}; changing them in place changes the next tokens' logits.
 */
class KvCacheTest {
    private static final String PROMPT = "Once upon a time";
    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    /** {@code [1, tokens, heads * 8]} as {@code [1, heads, tokens, 8]}, the cache's layout. */
    private static Tensor byHead(Tensor projected) {
        return projected.view(1, projected.size(1), -1, 8).transpose(1, 2);
    }

    @Test
    void keysAndValues_afterThePrompt_areTheLayersProjections_withRotaryPositionsOnTheKeys() {
        List<Object> seen = lm.generate(PROMPT, Generation.maxNewTokens(2), tr -> {
            List<Object> found = new ArrayList<>();
            for (int step : tr.iter(Steps.range(0, 2))) {
                if (step == 0) {
                    found.add(lm.get("model.rotary_emb").output(List.class));
                    found.add(lm.get("model.layers.1.self_attn.k_proj").output());
                    found.add(lm.get("model.layers.1.self_attn.v_proj").output());
                } else {
                    KvCache cache = (KvCache) lm.get("model.layers.1.self_attn").inputs().get("past_key_values");
                    found.add(cache.keys(1));
                    found.add(cache.values(1));
                    found.add(cache.length());
                }
            }
            return found;
        });
        @SuppressWarnings("unchecked")
        List<Tensor> rotary = (List<Tensor>) seen.get(0);
        Tensor keys = byHead((Tensor) seen.get(1));
        Tensor cos = rotary.get(0).unsqueeze(1);
        Tensor sin = rotary.get(1).unsqueeze(1);
        Tensor rotatedHalf = torch.cat(new TensorVector(keys.narrow(3, 4, 4).neg(), keys.narrow(3, 0, 4)), 3);
        Tensor expectedKeys = keys.mul(cos).add(rotatedHalf.mul(sin));

        long tokens = lm.tokenizer().encode(PROMPT).length;
        assertEquals(tokens + 1, seen.get(5), "layer 0, which ran before, has appended the new token already");
        assertArrayEquals(new long[] {1, 4, tokens, 8}, ((Tensor) seen.get(3)).sizes().vec().get(),
                "layer 1 holds the prompt's tokens when the first new one reaches it");
        assertTrue(torch.allclose(expectedKeys, (Tensor) seen.get(3), 0, 1e-5, false), "keys: k_proj, rotated");
        assertFalse(torch.allclose(keys, (Tensor) seen.get(3), 0, 1e-3, false), "the rotation changed them");
        assertTrue(torch.equal(byHead((Tensor) seen.get(2)), (Tensor) seen.get(4)), "values: v_proj as it was");
    }

    @Test
    void keys_changedInPlace_changeTheNextStepsLogits() {
        Tensor plain = lm.generate(PROMPT, Generation.maxNewTokens(2), tr -> {
            Tensor logits = null;
            for (int step : tr.iter(Steps.at(1))) {
                logits = lm.get("lm_head").output().clone();
            }
            return logits;
        });
        Tensor zeroed = lm.generate(PROMPT, Generation.maxNewTokens(2), tr -> {
            Tensor logits = null;
            for (int step : tr.iter(Steps.at(1))) {
                KvCache cache = (KvCache) lm.get("model.layers.0.self_attn").inputs().get("past_key_values");
                cache.values(0).zero_();
                logits = lm.get("lm_head").output().clone();
            }
            return logits;
        });

        assertFalse(torch.allclose(plain, zeroed, 0, 1e-3, false), "attention read the zeroed values");
    }

    @Test
    void keys_ofALayerTheModelDoesNotHave_sayWhichLayersThereAre() {
        KvCache cache = new KvCache(5);

        assertNull(cache.keys(4), "before the layer's first step");
        IndexOutOfBoundsException thrown = assertThrows(IndexOutOfBoundsException.class, () -> cache.values(5));

        assertEquals("no attention layer 5 in KvCache(5 layers, 0 tokens): layers are 0 to 4", thrown.getMessage());
    }
}
