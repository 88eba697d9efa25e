package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import io.nnsight.Cache;
import io.nnsight.Invoke;
import io.nnsight.Tensors;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Gemma 3's language models ({@code gemma3_text}) against transformers 5.18 in float32, on a Gemma 3 derived from
 * {@code ../shared/fixtures/gemma2-tiny} in a temporary folder: Gemma 3's config (no soft-capping; rotary parameters
 * per layer type, linear scaling by 2 over a base of 100,000 in the full layer and the default rotation over 10,000
 * in the two sliding-window layers of 6 tokens) and the fixture's weights with query and key norms added. Written
 * both as transformers 5 writes configs ({@code rope_parameters} by layer type, {@code layer_types}) and as the
 * checkpoints on the Hub do ({@code rope_theta}, {@code rope_local_base_freq}, {@code rope_scaling}, {@code
 * sliding_window_pattern}); both must give transformers' numbers, printed by {@code
 * src/test/python/gemma3_references.py}. Both prompts are longer than the window.
 */
class Gemma3Test {
    private static final String SHORT_PROMPT = "Once upon a time, there was a girl";
    private static final String LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play";

    @TempDir
    Path folder;

    /** What transformers gives for {@code prompt} of {@code tokens} tokens: the first 8 of each value at the last position. */
    record Expected(String prompt, int tokens, double[] fullCos, double[] fullSin, double[] slidingCos,
            double[] slidingSin, double[] logits, double sum, double l2, long[] greedy) {
        @Override
        public String toString() {
            return tokens + " tokens";
        }
    }

    static final Expected SHORT = new Expected(SHORT_PROMPT, 12,
            new double[] {0.7086698, 0.263396, 0.9525506, 0.9973115, 0.9998488, 0.9999915, 0.9999995, 1.0},
            new double[] {-0.7055403, 0.9646878, 0.3043802, 0.0732779, 0.0173917, 0.0041244, 0.0009781, 0.0002319},
            new double[] {0.0044257, -0.9437798, 0.4535961, 0.9401076, 0.9939561, 0.9993951, 0.9999395, 0.999994},
            new double[] {-0.9999902, -0.330575, 0.8912074, 0.3408779, 0.1097783, 0.034778, 0.0109998, 0.0034785},
            new double[] {0.0, 0.2076275, 0.0333286, -0.0689309, -0.0933861, 0.0195381, 0.0724508, -0.0276611},
            -0.90139, 2.393697, new long[] {114, 208, 208, 228, 208, 443, 480, 480, 201, 391});
    static final Expected LONG = new Expected(LONG_PROMPT, 21,
            new double[] {-0.8390715, -0.7177582, 0.8460091, 0.9911218, 0.9995, 0.9999719, 0.9999985, 0.9999999},
            new double[] {-0.5440211, 0.6962925, 0.5331684, 0.1329573, 0.0316175, 0.0074989, 0.0017783, 0.0004217},
            new double[] {0.4080821, 0.9991444, -0.4161468, 0.8065784, 0.9800666, 0.9980007, 0.9998, 0.99998},
            new double[] {0.9129453, 0.0413583, 0.9092974, 0.5911272, 0.1986693, 0.0632034, 0.0199987, 0.0063245},
            new double[] {0.0, -0.0682517, 0.1008619, -0.0622314, 0.1074804, 0.1138438, 0.1888032, 0.0457922},
            0.854426, 2.546259, new long[] {92, 92, 92, 209, 209, 209, 220, 501, 501, 421});

    static Stream<Arguments> cases() {
        return Stream.of(true, false).flatMap(current -> Stream.of(SHORT, LONG).map(expected -> Arguments.of(
                current ? "transformers 5 config" : "Hub config", expected)));
    }

    /** The derived Gemma 3, its config written as transformers 5 writes it ({@code current}) or as the Hub's are. */
    private LanguageModel gemma3(boolean current) {
        Shared.fixtureVariant("gemma2-tiny", folder, config -> {
            config.addProperty("model_type", "gemma3_text");
            JsonArray architectures = new JsonArray();
            architectures.add("Gemma3ForCausalLM");
            config.add("architectures", architectures);
            config.add("attn_logit_softcapping", JsonNull.INSTANCE);
            config.add("final_logit_softcapping", JsonNull.INSTANCE);
            config.remove("rope_parameters");
            if (current) {
                JsonObject full = new JsonObject();
                full.addProperty("rope_type", "linear");
                full.addProperty("factor", 2.0);
                full.addProperty("rope_theta", 100000.0);
                JsonObject sliding = new JsonObject();
                sliding.addProperty("rope_type", "default");
                sliding.addProperty("rope_theta", 10000.0);
                JsonObject rope = new JsonObject();
                rope.add("full_attention", full);
                rope.add("sliding_attention", sliding);
                config.add("rope_parameters", rope);
            } else { // the fixture's layer types, sliding, full, sliding, by the older pattern: every second is full
                config.remove("layer_types");
                config.addProperty("sliding_window_pattern", 2);
                config.addProperty("rope_theta", 100000.0);
                config.addProperty("rope_local_base_freq", 10000.0);
                JsonObject scaling = new JsonObject();
                scaling.addProperty("rope_type", "linear");
                scaling.addProperty("factor", 2.0);
                config.add("rope_scaling", scaling);
            }
        });
        Map<String, float[]> norms = new LinkedHashMap<>();
        for (int layer = 0; layer < 3; layer++) {
            float[] query = new float[16];
            float[] key = new float[16];
            for (int j = 0; j < 16; j++) {
                query[j] = (float) (0.1 * (j % 5 - 2) + 0.05 * layer);
                key[j] = -query[j];
            }
            norms.put("model.layers." + layer + ".self_attn.q_norm.weight", query);
            norms.put("model.layers." + layer + ".self_attn.k_norm.weight", key);
        }
        Shared.replaceWeights(folder.resolve("model.safetensors"), List.of(), norms);
        return LanguageModel.load(folder.toString());
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("cases")
    void rotaryEmbeddingsOfEachLayerTypeAndLogits_matchTransformers(String config, Expected expected) {
        LanguageModel lm = gemma3(config.startsWith("transformers"));

        Cache cache = lm.trace(expected.prompt(), tr -> tr.cache(Cache.Include.BOTH, "model.rotary_emb", "lm_head"));

        assertEquals(expected.tokens(), lm.tokenizer().encode(expected.prompt()).length);
        List<Cache.Call> rotations = cache.calls("model.rotary_emb");
        assertEquals(2, rotations.size(), "rotary_emb runs once per layer type");
        assertEquals("full_attention", rotations.get(0).inputs().get(2));
        assertEquals("sliding_attention", rotations.get(1).inputs().get(2));
        assertClose(expected.fullCos(), lastPosition(rotations.get(0), 0), 1e-6, "full layers' cos");
        assertClose(expected.fullSin(), lastPosition(rotations.get(0), 1), 1e-6, "full layers' sin");
        assertClose(expected.slidingCos(), lastPosition(rotations.get(1), 0), 1e-6, "sliding layers' cos");
        assertClose(expected.slidingSin(), lastPosition(rotations.get(1), 1), 1e-6, "sliding layers' sin");
        Tensor logits = cache.output("lm_head").select(0, 0).select(0, -1);
        assertClose(expected.logits(), logits, 1e-5, "logits");
        assertEquals(expected.sum(), logits.sum().item_double(), 1e-4, "sum of the logits");
        assertEquals(expected.l2(), logits.norm().item_double(), 1e-4, "L2 of the logits");
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("cases")
    void greedyTenTokens_matchTransformersTokenForToken(String config, Expected expected) {
        long[] ids = gemma3(config.startsWith("transformers")).generate(expected.prompt(), Generation.maxNewTokens(10))
                .ids(0);

        assertArrayEquals(expected.greedy(), Arrays.copyOfRange(ids, expected.tokens(), ids.length));
    }

    @Test
    void batchedPrompts_padded_giveEachPromptsLogitsAlone() {
        LanguageModel lm = gemma3(true);

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke(SHORT_PROMPT, () -> lm.output().select(1, -1).select(0, 0)),
                tr.invoke(LONG_PROMPT, () -> lm.output().select(1, -1).select(0, 0))));

        assertClose(SHORT.logits(), batched.get(0).get(), 1e-5, "short prompt's logits, batched");
        assertClose(LONG.logits(), batched.get(1).get(), 1e-5, "long prompt's logits, batched");
        assertEquals(SHORT.sum(), batched.get(0).get().sum().item_double(), 1e-4, "short prompt's sum, batched");
        assertEquals(LONG.sum(), batched.get(1).get().sum().item_double(), 1e-4, "long prompt's sum, batched");
    }

    @Test
    void load_bidirectionalAttention_isRefusedNamingTheField() {
        Shared.fixtureVariant("gemma2-tiny", folder, config -> {
            config.addProperty("model_type", "gemma3_text");
            config.addProperty("use_bidirectional_attention", true);
        });

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertTrue(refused.getMessage().contains("\"use_bidirectional_attention\" cannot be honoured"),
                refused.getMessage());
    }

    /** Element {@code index} ({@code cos}, {@code sin}) of a rotation's output, at the last position of row 0. */
    @SuppressWarnings("unchecked")
    private static Tensor lastPosition(Cache.Call rotation, int index) {
        return ((List<Tensor>) rotation.output()).get(index).select(0, 0).select(0, -1);
    }

    private static void assertClose(double[] expected, Tensor actual, double tolerance, String what) {
        float[] values = Tensors.floats(actual);
        assertTrue(values.length >= expected.length, what + ": " + values.length + " values");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], values[i], tolerance, what + " " + i);
        }
    }
}
