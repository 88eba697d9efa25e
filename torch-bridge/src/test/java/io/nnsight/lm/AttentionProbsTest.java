package io.nnsight.lm;

import static io.nnsight.lm.StoriesTest.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Envoy;
import io.nnsight.Inputs;
import io.nnsight.Tensors;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.ModuleHook;
import io.nnsight.spi.Traceable;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Attention patterns: each attention's {@code attention_probs} child, read and replaced in traces, against
 * transformers' eager softmax weights ({@code shared/models/stories260K/reference-extras.json}, {@code
 * attention_probs}: layers 0 and 3, within 1e-4), and computed only when a body waits for it.
 */
class AttentionProbsTest {
    private static LanguageModel lm;
    private static JsonObject reference;
    private static long[] ids;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        JsonObject extras = Shared.reference("models/stories260K/reference-extras.json");
        reference = extras.getAsJsonObject("attention_probs");
        ids = longs(extras.getAsJsonArray("ids"));
    }

    private static Envoy probs(int layer) {
        return lm.get("model.layers." + layer + ".self_attn.attention_probs");
    }

    @Test
    void probabilitiesOfLayers0And3_matchTransformersEagerAttention() {
        assertArrayEquals(ids, lm.tokenizer().encode(Shared.reference("models/stories260K/reference-extras.json")
                .get("prompt").getAsString()));
        JsonArray layers = reference.getAsJsonArray("layers");

        List<Tensor> patterns = lm.trace(ids, tr -> List.of(probs(layers.get(0).getAsInt()).output(),
                probs(layers.get(1).getAsInt()).output()));

        for (int i = 0; i < layers.size(); i++) {
            Tensor pattern = patterns.get(i).select(0, 0); // [heads, query, key]
            JsonObject summary = reference.getAsJsonArray("summaries").get(i).getAsJsonObject();
            String what = "layer " + layers.get(i).getAsInt();
            assertArrayEquals(longs(summary.getAsJsonArray("shape")), Tensors.shape(pattern), what);
            float[] values = Tensors.floats(pattern);
            JsonArray first = summary.getAsJsonArray("first8");
            for (int j = 0; j < first.size(); j++) {
                assertEquals(first.get(j).getAsDouble(), values[j], 1e-4, what + " element " + j);
            }
            assertEquals(summary.get("sum").getAsDouble(), pattern.sum().item_double(), 1e-3, what + " sum");
            assertEquals(summary.get("l2").getAsDouble(), pattern.norm().item_double(), 1e-4, what + " l2");
            float[] lastQuery = Tensors.floats(pattern.select(0, 0).select(0, -1));
            JsonArray expected = reference.getAsJsonArray("last_query_head0").get(i).getAsJsonArray();
            for (int k = 0; k < expected.size(); k++) {
                assertEquals(expected.get(k).getAsDouble(), lastQuery[k], 1e-4, what + " last query, key " + k);
            }
        }
    }

    @Test
    void readingTheProbabilities_leavesTheLogitsAsTheFusedKernelGivesThem() {
        Tensor fused = lm.trace(ids, tr -> lm.get("lm_head").output());
        Tensor eager = lm.trace(ids, tr -> {
            for (int layer = 0; layer < lm.layerCount(); layer++) {
                probs(layer).output();
            }
            return lm.get("lm_head").output();
        });

        assertTrue(torch.allclose(fused, eager, 1e-5, 1e-5, false), "max difference " + fused.sub(eager).abs().max().item_double());
    }

    @Test
    void zeroingAHeadsProbabilities_silencesThatHead() {
        int head = 3;
        long headDim = 8;
        Tensor beforeOutput = lm.trace(ids, tr -> {
            probs(0).output().select(1, head).zero_();
            return lm.get("model.layers.0.self_attn.o_proj").input();
        });

        Tensor silenced = beforeOutput.narrow(-1, head * headDim, headDim);
        assertEquals(0.0, silenced.abs().max().item_double(), 0.0, "head " + head + "'s part of o_proj's input");
        assertTrue(beforeOutput.narrow(-1, 0, headDim).abs().max().item_double() > 0, "head 0 still attends");
    }

    @Test
    void replacingThePattern_changesWhatTheModelContinuesWith() {
        Tensor original = lm.trace(ids, tr -> lm.get("lm_head").output());
        Tensor uniform = lm.trace(ids, tr -> {
            Tensor pattern = probs(2).output();
            Tensor causal = pattern.gt(new Scalar(0)).to(pattern.scalar_type());   // every earlier token...
            probs(2).setOutput(causal.div(causal.sum(new long[] {-1}, true, null)));   // ...weighted equally
            return lm.get("lm_head").output();
        });
        Tensor rebuilt = lm.trace(ids, tr -> {
            probs(2).setOutput(probs(2).output().clone());
            return lm.get("lm_head").output();
        });

        assertFalse(torch.allclose(original, uniform, 1e-3, 1e-3, false), "a uniform pattern changes the logits");
        assertTrue(torch.allclose(original, rebuilt, 1e-5, 1e-5, false), "the pattern itself changes nothing");
    }

    @Test
    void probabilities_areComputedOnlyWhenABodyWaitsForThem() {
        HookPoint point = ((Traceable) probs(1).module()).hookPoint();
        AtomicInteger calls = new AtomicInteger();
        ModuleHook counter = new ModuleHook() {
            @Override
            public Object around(Inputs inputs, Function<Inputs, Object> proceed) {
                calls.incrementAndGet();
                return proceed.apply(inputs);
            }

            @Override
            public boolean isAwaited() {
                return false; // counts the calls, wants none of them
            }
        };
        try (HookPoint.Registration registration = point.add(counter)) {
            lm.trace(ids, tr -> lm.get("model.layers.1.self_attn").output());
            assertEquals(0, calls.get(), "no body waited: the fused kernel ran");

            lm.trace(ids, tr -> probs(1).output());
            assertEquals(1, calls.get(), "a body waited: the probabilities were computed");

            lm.trace(ids, tr -> probs(3).output());
            assertEquals(1, calls.get(), "a body waited for another layer's only");
        }
    }
}
