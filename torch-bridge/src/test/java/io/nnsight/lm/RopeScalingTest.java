package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code yarn} and {@code longrope} rotary scaling end to end, against transformers 5.18 in float32: variants of two
 * shared fixtures whose config asks for them ({@code qwen2-tiny} with YaRN, factor 4 over 64 original positions;
 * {@code phi3-tiny} with LongRoPE over 16 original positions, so that the short prompt takes the short factors and
 * the long one the long factors), each giving the rotary embeddings' cosines and sines (scaled by the
 * attention factor) and the logits at the last position, and ten greedy tokens, as transformers does. The numbers
 * are printed by {@code src/test/python/rope_scaling_references.py}.
 */
class RopeScalingTest {
    private static final String SHORT_PROMPT = "Once upon a time, there was a girl";
    private static final String LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play";

    @TempDir
    Path folder;

    /**
     * What transformers gives for {@code prompt} of {@code tokens} tokens on the fixture's variant; {@code greedy} is
     * {@code null} for a Phi-3 generation that crosses {@code original_max_position_embeddings}: transformers' Phi-3
     * drops its cache there to recompute it with the long factors, and its generate then runs the next step on the
     * last token alone, where this library keeps the cached keys, as transformers' other longrope models do.
     */
    record Expected(String fixture, String prompt, int tokens, double[] cos, double[] sin, double[] logits, double sum,
            double l2, long[] greedy) {
        @Override
        public String toString() {
            return fixture + ", " + tokens + " tokens";
        }
    }

    static Stream<Expected> cases() {
        return Stream.of(
            new Expected("qwen2-tiny", SHORT_PROMPT, 12, new double[] {0.0050392, 0.8799726, 1.1381989, 1.1386251, 0.0050392, 0.8799726, 1.1381989, 1.1386251},
                new double[] {-1.1386184, 0.7225823, 0.0313084, 0.0031312, -1.1386184, 0.7225823, 0.0313084, 0.0031312},
                new double[] {0.2228654, -0.0121313, 0.109008, 0.1310012, -0.0340298, -0.0969832, 0.2190412, -0.0619719},
                -2.716998, 2.485684, new long[] {507, 425, 58, 387, 42, 334, 133, 171, 98, 312}),
            new Expected("qwen2-tiny", LONG_PROMPT, 21, new double[] {0.4646543, 0.3590353, 1.1372064, 1.1386151, 0.4646543, 0.3590353, 1.1372064, 1.1386151},
                new double[] {1.0395063, 1.0805418, 0.0569077, 0.0056931, 1.0395063, 1.0805418, 0.0569077, 0.0056931},
                new double[] {-0.1823507, -0.0458543, -0.0133624, -0.0165844, 0.1903479, -0.0338347, 0.0249034, -0.2374298},
                -1.486843, 2.595272, new long[] {76, 445, 76, 445, 76, 445, 76, 445, 438, 389}),
            new Expected("phi3-tiny", SHORT_PROMPT, 12, new double[] {0.0054204, 0.6617326, 1.220363, 1.2247193, 0.0054204, 0.6617326, 1.220363, 1.2247193},
                new double[] {-1.224733, 1.0305873, 0.1035087, 0.0079248, -1.224733, 1.0305873, 0.1035087, 0.0079248},
                new double[] {-0.0201784, -0.0465313, 0.0436142, 0.0779862, -0.0516044, -0.2002513, 0.0197645, -0.0721936},
                -2.68583, 2.519997, null),
            new Expected("phi3-tiny", LONG_PROMPT, 21, new double[] {0.4997965, 0.6617326, 1.2232143, 1.2247411, 0.4997965, 0.6617326, 1.2232143, 1.2247411},
                new double[] {1.1181251, 1.0305873, 0.0612117, 0.0030619, 1.1181251, 1.0305873, 0.0612117, 0.0030619},
                new double[] {-0.0553069, 0.0395763, -0.1248661, -0.1626815, -0.0775501, -0.1535287, -0.058704, -0.0916252},
                -5.325443, 2.565187, new long[] {100, 176, 0, 167, 462, 358, 212, 449, 258, 167}));
    }

    /** The fixture with the scaling transformers ran. */
    private void variant(String fixture) {
        Shared.fixtureVariant(fixture, folder, config -> {
            JsonObject rope = new JsonObject();
            rope.addProperty("rope_theta", 10000.0);
            if (fixture.equals("qwen2-tiny")) {
                rope.addProperty("rope_type", "yarn");
                rope.addProperty("factor", 4.0);
                rope.addProperty("original_max_position_embeddings", 64);
                config.addProperty("max_position_embeddings", 256);
            } else {
                rope.addProperty("rope_type", "longrope");
                rope.addProperty("partial_rotary_factor", 1.0);
                rope.add("short_factor", numbers(1.0, 1.1, 1.3, 1.7));
                rope.add("long_factor", numbers(1.0, 2.0, 4.0, 8.0));
                rope.addProperty("original_max_position_embeddings", 16);
                config.addProperty("original_max_position_embeddings", 16); // Phi-3 keeps it at the top level too
                config.addProperty("max_position_embeddings", 64);
            }
            config.add("rope_parameters", rope);
        });
    }

    private static JsonArray numbers(double... values) {
        JsonArray array = new JsonArray();
        Arrays.stream(values).forEach(array::add);
        return array;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void rotaryEmbeddingsAndLogits_atTheLastPosition_matchTransformers(Expected expected) {
        variant(expected.fixture());
        LanguageModel lm = LanguageModel.load(folder.toString());

        List<Tensor> seen = lm.trace(expected.prompt(), tr -> {
            @SuppressWarnings("unchecked")
            List<Tensor> rotary = lm.get("model.rotary_emb").output(List.class);
            return List.of(rotary.get(0).select(0, 0).select(0, -1), rotary.get(1).select(0, 0).select(0, -1),
                    lm.output().select(1, -1).select(0, 0));
        });

        assertEquals(expected.tokens(), lm.tokenizer().encode(expected.prompt()).length);
        Shared.assertClose(expected.cos(), seen.get(0), 1e-6, "cos");
        Shared.assertClose(expected.sin(), seen.get(1), 1e-6, "sin");
        Shared.assertLogits(expected.logits(), expected.sum(), expected.l2(), seen.get(2));
    }

    static Stream<Expected> generations() {
        return cases().filter(expected -> expected.greedy() != null);
    }

    @ParameterizedTest
    @MethodSource("generations")
    void greedyTenTokens_matchTransformersTokenForToken(Expected expected) {
        variant(expected.fixture());

        long[] ids = LanguageModel.load(folder.toString()).generate(expected.prompt(), Generation.maxNewTokens(10)).ids(0);

        assertArrayEquals(expected.greedy(), Arrays.copyOfRange(ids, expected.tokens(), ids.length));
    }
}
