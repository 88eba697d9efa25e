package io.nnsight.lm;

import static io.nnsight.lm.StoriesTest.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Tensors;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A randomly initialised GPT-2 ({@code shared/fixtures/gpt2-tiny-random}) with the GPT-2 tokenizer, against
 * Hugging Face transformers' numbers: the Conv1D layout, learned positions, LayerNorm and gelu_new.
 */
class Gpt2Test {
    private static LanguageModel lm;
    private static JsonObject reference;

    @BeforeAll
    static void load() {
        lm = LanguageModel.load(Shared.path("fixtures/gpt2-tiny-random").toString(),
                LanguageModel.Options.defaults().tokenizer(Shared.path("tokenizers/gpt2/tokenizer.json")));
        reference = Shared.reference("fixtures/gpt2-tiny-random/reference.json");
    }

    @Test
    void tokenizer_givesTheReferenceIds() {
        assertArrayEquals(longs(reference.getAsJsonArray("ids")), lm.tokenizer().encode(reference.get("text").getAsString()));
        assertArrayEquals(longs(reference.getAsJsonArray("hello_world_ids")), lm.tokenizer().encode("Hello world"));
    }

    @Test
    void hiddenStatesAndLogits_matchTransformers() {
        List<Tensor> states = lm.trace(reference.get("text").getAsString(), tr -> List.of(
                lm.get("transformer.drop").output().select(1, -1).select(0, 0),
                lm.get("transformer.h.0").output().select(1, -1).select(0, 0),
                lm.get("transformer.ln_f").output().select(1, -1).select(0, 0),
                lm.get("lm_head").output().select(1, -1).select(0, 0)));

        JsonArray hidden = reference.getAsJsonArray("hidden_states_last_pos");
        for (int i = 0; i < hidden.size(); i++) {
            assertSummary(hidden.get(i).getAsJsonObject(), states.get(i), "hidden state " + i);
        }
        assertSummary(reference.getAsJsonObject("logits_last_pos"), states.get(3), "logits");
        assertArrayEquals(longs(reference.getAsJsonObject("logits_last_top5").getAsJsonArray("ids")),
                Tensors.topK(states.get(3), 5).indices());
    }

    @Test
    void modulePaths_areHuggingFaces() {
        assertEquals("transformer.h.1.mlp.c_fc", lm.get("transformer.h.1.mlp.c_fc").path());
        assertEquals(List.of("transformer", "lm_head", "generator"),
                lm.children().stream().map(io.nnsight.Envoy::name).toList());
    }

    private static void assertSummary(JsonObject expected, Tensor actual, String what) {
        JsonArray first = expected.getAsJsonArray("first8");
        for (int i = 0; i < first.size(); i++) {
            assertEquals(first.get(i).getAsDouble(), actual.select(0, i).item_double(), 1e-3, what + " element " + i);
        }
        assertEquals(expected.get("sum").getAsDouble(), actual.sum().item_double(), 1e-2, what + " sum");
        assertEquals(expected.get("l2").getAsDouble(), actual.norm().item_double(), 1e-3, what + " l2");
    }
}
