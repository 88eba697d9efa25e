package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import io.nnsight.Cache;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
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
 * Gemma 3's language models ({@code gemma3_text}, and the language model of the image-text checkpoints, {@code
 * gemma3}) against transformers 5.18 in float32, on a Gemma 3 derived from {@code ../shared/fixtures/gemma2-tiny} in
 * a temporary folder: Gemma 3's config (no soft-capping; rotary parameters per layer type, linear scaling by 2 over a
 * base of 100,000 in the full layer and the default rotation over 10,000 in the two sliding-window layers of 6
 * tokens) and the fixture's weights with query and key norms added. Written three ways, which must all give
 * transformers' numbers, printed by {@code src/test/python/gemma3_references.py}: as transformers 5 writes configs
 * ({@code rope_parameters} by layer type, {@code layer_types}); as the checkpoints on the Hub do ({@code rope_theta},
 * {@code rope_local_base_freq}, {@code rope_scaling}, {@code sliding_window_pattern}); and as an image-text
 * checkpoint of the Hub (that config as its {@code text_config}, beside a {@code vision_config}; the weights under
 * transformers 4's names, {@code language_model.model.*}, with a vision tower's and a projector's). Both prompts are
 * longer than the window.
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

    /** How the derived Gemma 3 is written. */
    enum Form {
        /** {@code gemma3_text}, its config as transformers 5 writes it. */
        TRANSFORMERS_5,
        /** {@code gemma3_text}, its config as the Hub's are. */
        HUB,
        /** {@code gemma3}: an image-text checkpoint of the Hub. */
        IMAGE_TEXT
    }

    static Stream<Arguments> cases() {
        return Stream.of(Form.values()).flatMap(form -> Stream.of(SHORT, LONG).map(expected -> Arguments.of(form,
                expected)));
    }

    /** The derived Gemma 3, written as {@code form} says. */
    private LanguageModel gemma3(Form form) {
        boolean current = form == Form.TRANSFORMERS_5;
        Shared.fixtureVariant("gemma2-tiny", folder, config -> {
            config.addProperty("model_type", "gemma3_text");
            JsonArray architectures = new JsonArray();
            architectures.add("Gemma3ForCausalLM");
            config.add("architectures", architectures);
            config.add("attn_logit_softcapping", JsonNull.INSTANCE);
            config.add("final_logit_softcapping", JsonNull.INSTANCE);
            config.remove("rope_parameters");
            if (current) {
                config.add("rope_parameters", Shared.ropePerLayerType(100000.0, 10000.0));
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
            if (form == Form.IMAGE_TEXT) {
                imageText(config);
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
            String prefix = (form == Form.IMAGE_TEXT ? "language_model." : "") + "model.layers." + layer;
            norms.put(prefix + ".self_attn.q_norm.weight", query);
            norms.put(prefix + ".self_attn.k_norm.weight", key);
        }
        if (form == Form.IMAGE_TEXT) { // flat here: a loader that skips them does not read their shapes
            norms.put("vision_tower.vision_model.embeddings.patch_embedding.weight", new float[16 * 3 * 14 * 14]);
            norms.put("multi_modal_projector.mm_input_projection_weight", new float[16 * 32]);
        }
        Shared.replaceWeights(folder.resolve("model.safetensors"),
                form == Form.IMAGE_TEXT ? name -> "language_model." + name : name -> name, List.of(), norms);
        return LanguageModel.load(folder.toString());
    }

    /** Moves {@code config}'s fields into the {@code text_config} of an image-text checkpoint's config. */
    private static void imageText(JsonObject config) {
        JsonObject text = config.deepCopy();
        List.of("architectures", "transformers_version", "dtype", "use_cache").forEach(text::remove);
        for (String key : List.copyOf(config.keySet())) {
            config.remove(key);
        }
        config.addProperty("model_type", "gemma3");
        JsonArray architectures = new JsonArray();
        architectures.add("Gemma3ForConditionalGeneration");
        config.add("architectures", architectures);
        config.addProperty("dtype", "float32");
        config.add("text_config", text);
        JsonObject vision = new JsonObject();
        vision.addProperty("model_type", "siglip_vision_model");
        vision.addProperty("hidden_size", 16);
        vision.addProperty("intermediate_size", 32);
        vision.addProperty("num_hidden_layers", 1);
        vision.addProperty("num_attention_heads", 2);
        vision.addProperty("image_size", 28);
        vision.addProperty("patch_size", 14);
        config.add("vision_config", vision);
        config.addProperty("mm_tokens_per_image", 4);
        config.addProperty("image_token_index", 511);
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("cases")
    void rotaryEmbeddingsOfEachLayerTypeAndLogits_matchTransformers(Form form, Expected expected) {
        LanguageModel lm = gemma3(form);
        String rotary = form == Form.IMAGE_TEXT ? "model.language_model.rotary_emb" : "model.rotary_emb";

        Cache cache = lm.trace(expected.prompt(), tr -> tr.cache(Cache.Include.BOTH, rotary, "lm_head"));

        assertEquals(expected.tokens(), lm.tokenizer().encode(expected.prompt()).length);
        List<Cache.Call> rotations = cache.calls(rotary);
        assertEquals(2, rotations.size(), "rotary_emb runs once per layer type");
        assertEquals("full_attention", rotations.get(0).inputs().get(2));
        assertEquals("sliding_attention", rotations.get(1).inputs().get(2));
        Shared.assertClose(expected.fullCos(), lastPosition(rotations.get(0), 0), 1e-6, "full layers' cos");
        Shared.assertClose(expected.fullSin(), lastPosition(rotations.get(0), 1), 1e-6, "full layers' sin");
        Shared.assertClose(expected.slidingCos(), lastPosition(rotations.get(1), 0), 1e-6, "sliding layers' cos");
        Shared.assertClose(expected.slidingSin(), lastPosition(rotations.get(1), 1), 1e-6, "sliding layers' sin");
        Tensor logits = cache.output("lm_head").select(0, 0).select(0, -1);
        Shared.assertLogits(expected.logits(), expected.sum(), expected.l2(), logits);
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("cases")
    void greedyTenTokens_matchTransformersTokenForToken(Form form, Expected expected) {
        long[] ids = gemma3(form).generate(expected.prompt(), Generation.maxNewTokens(10))
                .ids(0);

        assertArrayEquals(expected.greedy(), Arrays.copyOfRange(ids, expected.tokens(), ids.length));
    }

    @Test
    void batchedPrompts_padded_giveEachPromptsLogitsAlone() {
        LanguageModel lm = gemma3(Form.TRANSFORMERS_5);

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke(SHORT_PROMPT, () -> lm.output().select(1, -1).select(0, 0)),
                tr.invoke(LONG_PROMPT, () -> lm.output().select(1, -1).select(0, 0))));

        Shared.assertClose(SHORT.logits(), batched.get(0).get(), 1e-5, "short prompt's logits, batched");
        Shared.assertClose(LONG.logits(), batched.get(1).get(), 1e-5, "long prompt's logits, batched");
        assertEquals(SHORT.sum(), batched.get(0).get().sum().item_double(), 1e-4, "short prompt's sum, batched");
        assertEquals(LONG.sum(), batched.get(1).get().sum().item_double(), 1e-4, "long prompt's sum, batched");
    }

    @Test
    void imageTextCheckpoint_hasTransformersPathsAndStandardNames_withoutAVisionTower() {
        LanguageModel lm = gemma3(Form.IMAGE_TEXT);

        assertEquals("model.language_model.layers", lm.paths().layers());
        assertSame(lm.get("model.language_model.layers.1"), lm.get("layers.1"));
        assertSame(lm.get("model.language_model.norm"), lm.get("ln_final"));
        assertEquals(List.of("language_model"), lm.get("model").children().stream().map(Envoy::name).toList());
    }

    @Test
    void load_imageTextConfigWithoutTextConfig_namesTheField() {
        Shared.fixtureVariant("gemma2-tiny", folder, config -> config.addProperty("model_type", "gemma3"));

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(folder.toString()));

        assertTrue(refused.getMessage().contains("has no \"text_config\""), refused.getMessage());
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
}
