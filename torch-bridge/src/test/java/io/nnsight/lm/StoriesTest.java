package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Envoy;
import io.nnsight.Tensors;
import io.nnsight.internal.engine.ThreadEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * stories260K, a real pretrained Llama, against the numbers Hugging Face transformers 5.18 and nnsight
 * 0.6.3 computed ({@code shared/models/stories260K/reference.json}): logits within 1e-3, ids exactly.
 */
class StoriesTest {
    private static LanguageModel lm;
    private static JsonObject reference;
    private static String prompt;

    @BeforeAll
    static void load() {
        lm = LanguageModel.load(Shared.path("models/stories260K").toString());
        reference = Shared.reference("models/stories260K/reference.json");
        prompt = reference.get("prompt").getAsString();
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    @Test
    void tokenizer_givesTheReferenceIds() {
        for (Map.Entry<String, com.google.gson.JsonElement> entry : reference.getAsJsonObject("tokenizer").entrySet()) {
            assertArrayEquals(longs(entry.getValue().getAsJsonArray()), lm.tokenizer().encode(entry.getKey()), entry.getKey());
        }
        assertArrayEquals(longs(reference.getAsJsonArray("prompt_ids")), lm.tokenizer().encode(prompt));
    }

    @Test
    void lastPositionLogits_matchTransformers() {
        Tensor logits = lm.trace(prompt, tr -> lm.get("lm_head").output().select(1, -1).select(0, 0));

        JsonObject expected = reference.getAsJsonObject("forward");
        assertTop5(expected.getAsJsonObject("last_logits_top5"), logits);
        JsonObject summary = expected.getAsJsonObject("last_logits");
        assertClose(summary.getAsJsonArray("first8"), logits.narrow(0, 0, 8));
        assertEquals(summary.get("sum").getAsDouble(), logits.sum().item_double(), 1e-2);
        assertEquals(summary.get("l2").getAsDouble(), logits.norm().item_double(), 1e-3);
    }

    @Test
    void layerOutputNorms_atTheLastPosition_matchTransformers() {
        List<Double> norms = lm.trace(prompt, tr -> {
            List<Double> values = new ArrayList<>();
            for (Envoy layer : lm.get("model.layers")) {
                values.add(layer.output().select(1, -1).norm().item_double());
            }
            return values;
        });

        JsonArray expected = reference.getAsJsonObject("forward").getAsJsonArray("layer_output_last_pos_l2");
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i).getAsDouble(), norms.get(i), 1e-3, "layer " + i);
        }
    }

    @Test
    void zeroingTheLastMlp_matchesTransformersAblation() {
        Tensor logits = lm.trace(prompt, tr -> {
            lm.get("model.layers.4.mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1).select(0, 0);
        });

        assertTop5(reference.getAsJsonObject("ablate_layer4_mlp_zero").getAsJsonObject("last_logits_top5"), logits);
    }

    @Test
    void logitLens_matchesTransformers() {
        List<Long> lens = lm.trace(prompt, tr -> {
            List<Long> top = new ArrayList<>();
            for (Envoy layer : lm.get("model.layers")) {
                Tensor hidden = layer.output().select(1, -1);
                top.add(lm.get("lm_head").call(lm.get("model.norm").call(hidden)).argmax().item_long());
            }
            return top;
        });

        assertArrayEquals(longs(reference.getAsJsonArray("logit_lens_top1_per_layer")),
                lens.stream().mapToLong(Long::longValue).toArray());
    }

    @Test
    void greedyContinuation_matchesTransformersTokenForToken() {
        JsonObject greedy = reference.getAsJsonObject("greedy20");

        Generated generated = lm.generate(greedy.get("prompt").getAsString(), Generation.maxNewTokens(20));

        assertArrayEquals(longs(greedy.getAsJsonArray("ids")), generated.ids(0));
        assertTrue(greedy.get("text").getAsString().endsWith(generated.texts().get(0)), generated.texts().get(0));
    }

    private static void assertTop5(JsonObject expected, Tensor logits) {
        Tensors.TopK top = Tensors.topK(logits, 5);
        assertArrayEquals(longs(expected.getAsJsonArray("ids")), top.indices());
        JsonArray values = expected.getAsJsonArray("values");
        for (int i = 0; i < values.size(); i++) {
            assertEquals(values.get(i).getAsDouble(), top.value(i), 1e-3, "value " + i);
        }
    }

    private static void assertClose(JsonArray expected, Tensor actual) {
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i).getAsDouble(), actual.select(0, i).item_double(), 1e-3, "element " + i);
        }
    }

    static long[] longs(JsonArray array) {
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).getAsLong();
        }
        return values;
    }
}
