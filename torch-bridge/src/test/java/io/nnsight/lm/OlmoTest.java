package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import io.nnsight.Invoke;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntToDoubleFunction;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * OLMo 2 ({@code olmo2}) and OLMo 3 ({@code olmo3}) against transformers 5.18 in float32, each derived from {@code
 * ../shared/fixtures/mistral-tiny} in a temporary folder: its config, and the fixture's weights without the norms
 * before the blocks, its {@code post_attention_layernorm} now after the attention, and added: {@code
 * post_feedforward_layernorm} and the query and key norms over whole projections, each weight perturbed so that a
 * norm read in the wrong place or over the wrong features shows. OLMo 3 has the same weights, its layers sliding,
 * full, sliding over a window of 5 tokens, and rotary embeddings per layer type (linear scaling by 2 in the full
 * layer). The numbers are printed by {@code src/test/python/olmo_references.py}.
 */
class OlmoTest {
    private static final String SHORT_PROMPT = "Once upon a time, there was a girl";
    private static final String LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play";

    @TempDir
    Path folder;

    /** What transformers gives for {@code prompt} on {@code family}: the first 8 of each value at the last position. */
    record Expected(String family, String prompt, int tokens, double[] logits, double sum, double l2, double[] layer1,
            long[] greedy) {
        @Override
        public String toString() {
            return family + ", " + tokens + " tokens";
        }
    }

    static final Expected SHORT = new Expected("olmo2", SHORT_PROMPT, 12,
            new double[] {0.085173, 0.0715908, -0.0752592, 0.1456451, 0.0017945, 0.1357375, -0.0116666, 0.0618244},
            -4.715206, 2.486979,
            new double[] {-0.8077016, -0.3409697, -0.1186539, 1.0128933, -0.552916, 0.9210384, 0.1639455, -0.5229008},
            new long[] {204, 481, 392, 392, 484, 452, 392, 204, 481, 392});
    static final Expected LONG = new Expected("olmo2", LONG_PROMPT, 21,
            new double[] {-0.0248492, -0.0664067, -0.0453, 0.0359277, -0.1224492, 0.0888053, -0.0266389, -0.0414025},
            -2.543882, 2.522114,
            new double[] {-0.5369158, 0.3650738, -0.4911005, 0.372969, -0.4001485, -1.2120594, -1.0389266, -0.4562459},
            new long[] {372, 372, 439, 452, 372, 62, 62, 439, 62, 465});

    static Stream<Expected> cases() {
        return Stream.of(SHORT, LONG,
            new Expected("olmo3", SHORT_PROMPT, 12,
                new double[] {0.1222233, 0.1477061, -0.108206, 0.1053391, 0.0618882, 0.131676, 0.0351404, 0.0961805},
                -5.696877, 2.417722,
                new double[] {-0.6018043, -0.2298143, -1.3086836, 1.125157, 0.2818368, 0.3829842, 0.7146475, -0.2517799},
                new long[] {392, 484, 254, 254, 376, 376, 376, 312, 376, 396}),
            new Expected("olmo3", LONG_PROMPT, 21,
                new double[] {-0.1275245, -0.1775478, 0.0165909, -0.0059113, -0.1309578, 0.1007579, -0.1149123, -0.110566},
                -2.934513, 2.563331,
                new double[] {0.0412306, 0.3234996, 0.4084193, -0.2381244, -0.3679523, 0.3542539, -1.962822, 0.4443102},
                new long[] {452, 452, 452, 452, 452, 452, 452, 452, 452, 12}));
    }

    /** The derived model of {@code family}, {@code olmo2} or {@code olmo3}. */
    private LanguageModel olmo(String family) {
        Shared.fixtureVariant("mistral-tiny", folder, config -> {
            config.addProperty("model_type", family);
            JsonArray architectures = new JsonArray();
            architectures.add(family.equals("olmo2") ? "Olmo2ForCausalLM" : "Olmo3ForCausalLM");
            config.add("architectures", architectures);
            config.remove("sliding_window");
            if (family.equals("olmo3")) {
                config.addProperty("sliding_window", 5);
                JsonArray types = new JsonArray();
                List.of("sliding_attention", "full_attention", "sliding_attention").forEach(types::add);
                config.add("layer_types", types);
                config.add("rope_parameters", Shared.ropePerLayerType(10000.0, 10000.0));
            }
        });
        List<String> removed = new ArrayList<>();
        Map<String, float[]> added = new LinkedHashMap<>();
        for (int layer = 0; layer < 3; layer++) {
            int i = layer;
            String prefix = "model.layers." + layer + ".";
            removed.add(prefix + "input_layernorm.weight");
            added.put(prefix + "post_feedforward_layernorm.weight", vector(32, j -> 1 + 0.1 * (j % 7 - 3) - 0.02 * i));
            added.put(prefix + "self_attn.q_norm.weight", vector(32, j -> 1 + 0.05 * (j % 5 - 2) + 0.03 * i));
            added.put(prefix + "self_attn.k_norm.weight", vector(16, j -> 1 - 0.04 * (j % 3 - 1) + 0.02 * i));
        }
        Shared.replaceWeights(folder.resolve("model.safetensors"), removed, added);
        return LanguageModel.load(folder.toString());
    }

    private static float[] vector(int size, IntToDoubleFunction formula) {
        float[] values = new float[size];
        for (int j = 0; j < size; j++) {
            values[j] = (float) formula.applyAsDouble(j);
        }
        return values;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsAndALayersOutput_matchTransformers(Expected expected) {
        LanguageModel lm = olmo(expected.family());

        List<Tensor> seen = lm.trace(expected.prompt(), tr -> List.of(
                lm.get("model.layers.1").output().select(0, 0).select(0, -1),
                lm.output().select(0, 0).select(0, -1)));

        assertEquals(expected.tokens(), lm.tokenizer().encode(expected.prompt()).length);
        Shared.assertClose(expected.layer1(), seen.get(0), 1e-5, "layer 1's output");
        Shared.assertLogits(expected.logits(), expected.sum(), expected.l2(), seen.get(1));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void greedyTenTokens_matchTransformersTokenForToken(Expected expected) {
        long[] ids = olmo(expected.family()).generate(expected.prompt(), Generation.maxNewTokens(10)).ids(0);

        assertArrayEquals(expected.greedy(), Arrays.copyOfRange(ids, expected.tokens(), ids.length));
    }

    @ParameterizedTest
    @ValueSource(strings = {"olmo2", "olmo3"})
    void batchedPrompts_padded_giveEachPromptsLogitsAlone(String family) {
        List<Expected> expected = cases().filter(each -> each.family().equals(family)).toList();
        LanguageModel lm = olmo(family);

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke(SHORT_PROMPT, () -> lm.output().select(1, -1).select(0, 0)),
                tr.invoke(LONG_PROMPT, () -> lm.output().select(1, -1).select(0, 0))));

        Shared.assertClose(expected.get(0).logits(), batched.get(0).get(), 1e-5, "short prompt's logits, batched");
        Shared.assertClose(expected.get(1).logits(), batched.get(1).get(), 1e-5, "long prompt's logits, batched");
    }

    @Test
    void moduleTree_hasNormsAfterTheBlocksOnly_andStandardNames() {
        LanguageModel lm = olmo("olmo2");

        List<String> layer = lm.get("layers.0").children().stream().map(child -> child.name()).toList();

        assertEquals(List.of("self_attn", "mlp", "post_attention_layernorm", "post_feedforward_layernorm"), layer);
        assertFalse(layer.contains("input_layernorm"));
        assertTrue(lm.get("layers.0.attn").children().stream().anyMatch(child -> child.name().equals("q_norm")));
        assertEquals(32, lm.get("model.layers.0.self_attn.q_norm").module().parameters().get(0).size(0));
        assertEquals(16, lm.get("model.layers.0.self_attn.k_norm").module().parameters().get(0).size(0));
    }
}
