package io.nnsight.lm;

import static io.nnsight.lm.StoriesTest.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Tensors;
import io.nnsight.safetensors.DType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every family against the numbers transformers 5.18 and nnsight 0.6.3 computed for its random-init tiny model
 * ({@code shared/fixtures/<arch>-tiny/reference.json}, float32): the prompt's ids, each layer's output at the last
 * position, the last position's logits (top-5 ids exactly, values within 1e-3), the top-5 with layer 1's MLP output
 * zeroed, and 10 greedy tokens exactly. {@code qwen2-tiny} is sharded; {@code llama3-bf16-tiny} stores bfloat16
 * weights (with {@code llama3} rope scaling), loaded here in float32 as its references were computed.
 */
class FamilyReferenceTest {
    private static final Map<String, LanguageModel> MODELS = new HashMap<>();

    /** The fixture's model in float32, loaded once. */
    static synchronized LanguageModel model(String fixture) {
        return MODELS.computeIfAbsent(fixture, name -> LanguageModel.load(Shared.path("fixtures/" + name).toString(),
                LanguageModel.Options.defaults().dtype(DType.F32)));
    }

    /** The fixtures of the families, {@code shared/fixtures/<arch>-tiny}. */
    static List<String> fixtures() {
        return List.of("pythia-tiny", "qwen2-tiny", "qwen3-tiny", "mistral-tiny", "gemma2-tiny", "phi3-tiny",
                "llama3-bf16-tiny");
    }

    private static JsonObject reference(String fixture) {
        return Shared.reference("fixtures/" + fixture + "/reference.json");
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void tokenizer_givesTheReferenceIds(String fixture) {
        JsonObject reference = reference(fixture);

        assertArrayEquals(longs(reference.getAsJsonArray("ids")), model(fixture).tokenizer().encode(
                reference.get("prompt").getAsString()));
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void layerOutputsAndLogits_atTheLastPosition_matchTransformers(String fixture) {
        JsonObject reference = reference(fixture);
        LanguageModel lm = model(fixture);
        ModulePaths paths = lm.paths();
        assertEquals(reference.get("layer_path").getAsString(), paths.layers() + ".{i}");
        assertEquals(reference.get("mlp_path").getAsString(), paths.layers() + ".{i}." + paths.mlp());

        List<Tensor> seen = lm.trace(reference.get("prompt").getAsString(), tr -> {
            List<Tensor> values = new ArrayList<>();
            for (int i = 0; i < lm.layerCount(); i++) {
                values.add(lm.get(paths.layer(i)).output().select(1, -1).select(0, 0));
            }
            values.add(lm.output().select(1, -1).select(0, 0));
            return values;
        });

        JsonArray layers = reference.getAsJsonArray("layer_output_last_pos");
        assertEquals(layers.size(), lm.layerCount());
        for (int i = 0; i < layers.size(); i++) {
            assertSummary(layers.get(i).getAsJsonObject(), seen.get(i), fixture + " layer " + i);
        }
        Tensor logits = seen.get(layers.size());
        assertSummary(reference.getAsJsonObject("last_logits"), logits, fixture + " logits");
        assertTop5(reference.getAsJsonObject("last_logits_top5"), logits, fixture);
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void zeroingLayer1sMlp_matchesTransformersAblation(String fixture) {
        JsonObject reference = reference(fixture);
        LanguageModel lm = model(fixture);

        Tensor logits = lm.trace(reference.get("prompt").getAsString(), tr -> {
            lm.get(lm.paths().mlp(1)).output().zero_();
            return lm.output().select(1, -1).select(0, 0);
        });

        assertTop5(reference.getAsJsonObject("ablate_mlp1_zero_top5"), logits, fixture + " ablated");
    }

    @ParameterizedTest
    @MethodSource("fixtures")
    void greedyTenTokens_matchTransformersTokenForToken(String fixture) {
        JsonObject reference = reference(fixture);

        Generated generated = model(fixture).generate(reference.get("prompt").getAsString(), Generation.maxNewTokens(10));

        assertArrayEquals(longs(reference.getAsJsonArray("greedy10_ids")), generated.ids(0), fixture);
    }

    @Test
    void bfloat16Checkpoint_loadsInBfloat16_andGeneratesTransformersBfloat16Tokens() {
        JsonObject reference = reference("llama3-bf16-tiny");
        LanguageModel lm = LanguageModel.load(Shared.path("fixtures/llama3-bf16-tiny").toString());
        assertEquals(DType.BF16, lm.dtype(), "the checkpoint's type, as transformers 5 loads it");

        Generated generated = lm.generate(reference.get("prompt").getAsString(), Generation.maxNewTokens(10));

        assertArrayEquals(longs(reference.getAsJsonArray("bf16_compute_greedy10_ids")), generated.ids(0));
    }

    static void assertTop5(JsonObject expected, Tensor logits, String what) {
        Tensors.TopK top = Tensors.topK(logits, 5);
        assertArrayEquals(longs(expected.getAsJsonArray("ids")), top.indices(), what + " top-5 ids");
        JsonArray values = expected.getAsJsonArray("values");
        for (int i = 0; i < values.size(); i++) {
            assertEquals(values.get(i).getAsDouble(), top.value(i), 1e-3, what + " top-5 value " + i);
        }
    }

    static void assertSummary(JsonObject expected, Tensor actual, String what) {
        assertArrayEquals(longs(expected.getAsJsonArray("shape")), Tensors.shape(actual), what + " shape");
        JsonArray first = expected.getAsJsonArray("first8");
        float[] values = Tensors.floats(actual);
        for (int i = 0; i < first.size(); i++) {
            assertEquals(first.get(i).getAsDouble(), values[i], 1e-3, what + " element " + i);
        }
        assertEquals(expected.get("sum").getAsDouble(), actual.sum().item_double(), 1e-3, what + " sum");
        assertEquals(expected.get("l2").getAsDouble(), actual.norm().item_double(), 1e-3, what + " l2");
    }
}
