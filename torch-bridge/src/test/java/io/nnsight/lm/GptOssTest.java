package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.Tensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GPT-OSS ({@code gpt_oss}) against transformers 5.18 in float32, on a model derived from {@code mistral-tiny} in a
 * temporary folder as {@code src/test/python/gpt_oss_references.py} derives it (which prints the numbers): 4 experts
 * of 24 features, 2 per token, stored as the Hub's dequantized checkpoints store them (stacked, gate and up
 * interleaved, with biases), the gate and up projections scaled so that the experts' clamps take effect (512 and 905
 * values clamped in layer 0 for the two prompts); biases on all four attention projections; a sink per head; layers 0
 * and 2 sliding (window 5); YaRN rope, not truncated.
 */
class GptOssTest {
    private static final String SHORT_PROMPT = "Once upon a time, there was a girl";
    private static final String LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play";
    private static final int EXPERTS = 4;
    private static final int WIDTH = 24;
    private static final int HIDDEN = 32;
    private static final int HEADS = 4;

    @TempDir
    Path folder;

    private LanguageModel lm;

    /**
     * What transformers gives for {@code prompt}: the first 8 of each value at the last position, layer 0's router
     * logits there and the two experts it picks, best first, and ten greedy tokens.
     */
    record Expected(String prompt, int tokens, double[] logits, double sum, double l2, double[] layer1, double[] router,
            long[] experts, long[] greedy) {
        @Override
        public String toString() {
            return tokens + " tokens";
        }
    }

    static Stream<Expected> cases() {
        return Stream.of(
            new Expected(SHORT_PROMPT, 12,
                new double[] {0.0083434, 0.0379399, 0.2088055, -0.046372, -0.0286462, -0.1312989, -0.10825, 0.2454347},
                0.89473, 2.61199,
                new double[] {1.6221719, -5.1993728, 4.5600395, -1.9921401, -1.2965523, -7.3999157, 4.2655635, 1.395884},
                new double[] {-0.6877791, 0.1634071, 0.6941394, -0.1499192}, new long[] {2, 1},
                new long[] {21, 266, 35, 370, 9, 181, 353, 181, 353, 164}),
            new Expected(LONG_PROMPT, 21,
                new double[] {0.0572355, 0.0553924, -0.1638208, 0.0416197, 0.0592014, -0.0798709, 0.1314475, 0.1061664},
                -0.321575, 2.494848,
                new double[] {1.7682406, -4.9759374, -0.8065382, -0.2336049, -3.8899975, -2.9644618, 6.5852804, 2.2967257},
                new double[] {-0.6962079, 0.083473, 0.4609696, -0.0059389}, new long[] {2, 1},
                new long[] {173, 183, 351, 492, 223, 124, 18, 484, 367, 80}));
    }

    @BeforeEach
    void derive() {
        lm = derive(folder, WIDTH, null);
    }

    /**
     * The test's model in {@code into}, with experts of {@code width} features; with {@code packed}, a stacked
     * parameter's blocks and scales given by it ({@code [name]_blocks}, {@code _scales}) take its place and
     * config.json says MXFP4.
     */
    private static LanguageModel derive(Path into, int width, Map<String, Tensor> packed) {
        Shared.fixtureVariant("mistral-tiny", into, config -> {
            configure(config);
            config.addProperty("intermediate_size", width);
            if (packed != null) {
                JsonObject quantization = new JsonObject();
                quantization.addProperty("quant_method", "mxfp4");
                config.add("quantization_config", quantization);
            }
        });
        List<String> removed = new ArrayList<>();
        Map<String, Shared.Weight> added = new LinkedHashMap<>();
        for (int layer = 0; layer < 3; layer++) {
            int l = layer;
            String prefix = "model.layers." + layer + ".";
            for (String mlp : List.of("gate_proj", "up_proj", "down_proj")) {
                removed.add(prefix + "mlp." + mlp + ".weight");
            }
            String[] projections = {"q_proj", "k_proj", "v_proj", "o_proj"};
            int[] sizes = {32, 16, 16, HIDDEN};
            for (int kind = 8; kind <= 11; kind++) {
                added.put(prefix + "self_attn." + projections[kind - 8] + ".bias", vector(layer, kind, sizes[kind - 8], 1));
            }
            added.put(prefix + "self_attn.sinks", vector(layer, 12, HEADS, 25));
            added.put(prefix + "mlp.router.weight", Shared.formulaMatrix(layer, 0, 0, EXPERTS, HIDDEN));
            added.put(prefix + "mlp.router.bias", vector(layer, 13, EXPERTS, 1));
            if (packed == null) {
                added.put(prefix + "mlp.experts.gate_up_proj",
                        stacked(e -> Shared.formulaMatrix(l, 1, e, HIDDEN, 2 * width), 40));
                added.put(prefix + "mlp.experts.down_proj", stacked(e -> Shared.formulaMatrix(l, 2, e, width, HIDDEN), 1));
            }
            added.put(prefix + "mlp.experts.gate_up_proj_bias", stacked(e -> vector(l, 14 + e, 2 * width, 1), 1));
            added.put(prefix + "mlp.experts.down_proj_bias", stacked(e -> vector(l, 18 + e, HIDDEN, 1), 1));
        }
        Path checkpoint = into.resolve("model.safetensors");
        Shared.replaceShapedWeights(checkpoint, name -> name, removed, added);
        if (packed != null) {
            Shared.replaceTensors(checkpoint, name -> name, List.of(), packed);
        }
        return LanguageModel.load(into.toString());
    }

    private static void configure(JsonObject config) {
        config.addProperty("model_type", "gpt_oss");
        JsonArray architectures = new JsonArray();
        architectures.add("GptOssForCausalLM");
        config.add("architectures", architectures);
        config.addProperty("num_local_experts", EXPERTS);
        config.addProperty("num_experts_per_tok", 2);
        config.addProperty("intermediate_size", WIDTH);
        config.addProperty("sliding_window", 5);
        config.addProperty("attention_bias", true);
        JsonArray types = new JsonArray();
        List.of("sliding_attention", "full_attention", "sliding_attention").forEach(types::add);
        config.add("layer_types", types);
        JsonObject rope = new JsonObject();
        rope.addProperty("rope_type", "yarn");
        rope.addProperty("rope_theta", 10000.0);
        rope.addProperty("factor", 4.0);
        rope.addProperty("beta_fast", 32.0);
        rope.addProperty("beta_slow", 1.0);
        rope.addProperty("truncate", false);
        rope.addProperty("original_max_position_embeddings", 64);
        config.add("rope_parameters", rope);
    }

    /** {@code ((3j + 5l + 7k) % 11 - 5) / 50}, times {@code scale}, as the reference script's {@code vector}. */
    private static Shared.Weight vector(int layer, int kind, int size, double scale) {
        return Shared.vector(size, j -> ((3 * j + 5 * layer + 7 * kind) % 11 - 5) / 50.0 * (float) scale);
    }

    /** The experts' matrices or vectors {@code each(e)}, stacked along a first dimension, each value times {@code scale}. */
    private static Shared.Weight stacked(IntFunction<Shared.Weight> each, double scale) {
        List<Shared.Weight> parts = new ArrayList<>();
        for (int e = 0; e < EXPERTS; e++) {
            parts.add(each.apply(e));
        }
        long[] shape = new long[parts.get(0).shape().length + 1];
        shape[0] = EXPERTS;
        System.arraycopy(parts.get(0).shape(), 0, shape, 1, shape.length - 1);
        int size = parts.get(0).values().length;
        float[] values = new float[EXPERTS * size];
        for (int e = 0; e < EXPERTS; e++) {
            float[] part = parts.get(e).values();
            for (int i = 0; i < size; i++) {
                values[e * size + i] = (float) (part[i] * scale);
            }
        }
        return new Shared.Weight(shape, values);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsALayersOutputAndTheRouter_matchTransformers(Expected expected) {
        List<Tensor> seen = lm.trace(expected.prompt(), tr -> {
            @SuppressWarnings("unchecked")
            List<Tensor> routed = lm.get("model.layers.0.mlp.router").output(List.class);
            return List.of(routed.get(0).select(0, -1), routed.get(2).select(0, -1),
                    lm.get("model.layers.1").output().select(0, 0).select(0, -1), lm.output().select(0, 0).select(0, -1));
        });

        assertEquals(expected.tokens(), lm.tokenizer().encode(expected.prompt()).length);
        Shared.assertClose(expected.router(), seen.get(0), 1e-5, "layer 0's router logits");
        assertArrayEquals(expected.experts(), Tensors.longs(seen.get(1)), "the experts layer 0 picks");
        Shared.assertClose(expected.layer1(), seen.get(2), 1e-4, "layer 1's output");
        Shared.assertLogits(expected.logits(), expected.sum(), expected.l2(), seen.get(3));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void greedyTenTokens_matchTransformersTokenForToken(Expected expected) {
        long[] ids = lm.generate(expected.prompt(), Generation.maxNewTokens(10)).ids(0);

        assertArrayEquals(expected.greedy(), Arrays.copyOfRange(ids, expected.tokens(), ids.length));
    }

    @Test
    void batchedPrompts_padded_giveEachPromptsLogitsAlone() {
        List<Expected> expected = cases().toList();

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke(SHORT_PROMPT, () -> lm.output().select(1, -1).select(0, 0)),
                tr.invoke(LONG_PROMPT, () -> lm.output().select(1, -1).select(0, 0))));

        Shared.assertClose(expected.get(0).logits(), batched.get(0).get(), 1e-5, "short prompt's logits, batched");
        Shared.assertClose(expected.get(1).logits(), batched.get(1).get(), 1e-5, "long prompt's logits, batched");
    }

    @Test
    void mlpOutput_isTheHiddenStatesAndTheRoutingWeights_asTransformersGptOssMlpReturnsThem() {
        List<Tensor> seen = lm.trace(SHORT_PROMPT, tr -> {
            @SuppressWarnings("unchecked")
            List<Tensor> routed = lm.get("model.layers.0.mlp.router").output(List.class);
            Tensor weights = routed.get(1).clone();
            Tensor experts = lm.get("model.layers.0.mlp.experts").output().clone();
            @SuppressWarnings("unchecked")
            List<Tensor> block = lm.get("model.layers.0.mlp").output(List.class);
            return List.of(weights, experts, block.get(0), block.get(1));
        });

        assertEquals(List.of("router", "experts"), names(lm.get("model.layers.0.mlp")));
        assertEquals(List.of(), names(lm.get("model.layers.0.mlp.experts")), "no activation module");
        assertArrayEquals(new long[] {1, 12, HIDDEN}, Tensors.shape(seen.get(2)));
        assertTrue(torch.equal(seen.get(1).reshape(1, 12, HIDDEN), seen.get(2)), "the block's hidden states");
        assertTrue(torch.equal(seen.get(0), seen.get(3)), "the block's routing weights");
        assertTrue(torch.allclose(seen.get(3).sum(new long[] {-1}, false, new ScalarTypeOptional()),
                torch.ones(12), 0, 1e-6, false), "each token's weights are a softmax over its picked experts");
    }

    @Test
    void attentionProbs_withSinks_sumToLessThanOne_andRotaryEmbGivesHalfTheHead() {
        List<Tensor> seen = lm.trace(SHORT_PROMPT, tr -> List.of(
                (Tensor) lm.get("model.rotary_emb").output(List.class).get(0),
                lm.get("model.layers.1.self_attn.attention_probs").output()));

        assertArrayEquals(new long[] {1, 12, 4}, Tensors.shape(seen.get(0)), "cos of one half of each 8-wide head");
        Tensor rows = seen.get(1).sum(new long[] {-1}, false, new ScalarTypeOptional());
        assertTrue(rows.max().item_double() < 0.999, "the sinks take some of every row: " + rows.max().item_double());
        assertTrue(rows.min().item_double() > 0.01, "and not all of it");
    }

    @Test
    void scan_givesTheShapesOfTheMlpsTwoOutputs_withoutRunningTheExperts() {
        List<Tensor> scanned = lm.scan(SHORT_PROMPT, tr -> {
            @SuppressWarnings("unchecked")
            List<Tensor> block = lm.get("model.layers.0.mlp").output(List.class);
            return List.of(block.get(0), block.get(1), lm.get("model.layers.2.self_attn.attention_probs").output());
        });

        assertArrayEquals(new long[] {1, 12, HIDDEN}, Tensors.shape(scanned.get(0)));
        assertArrayEquals(new long[] {12, 2}, Tensors.shape(scanned.get(1)), "each token's two routing weights");
        assertArrayEquals(new long[] {1, HEADS, 12, 12}, Tensors.shape(scanned.get(2)), "the pattern without the sink");
    }

    // ---- MXFP4 checkpoints: experts of 32 features, each value 4 bits times a power of two per 32 ----

    private static final int PACKED_WIDTH = 32;
    private static final float[] FP4 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};

    /** The reference script's {@code nibbles}: byte {@code b} of group {@code g} of row {@code r}. */
    private static int packedByte(int layer, int kind, int expert, int r, int g, int b) {
        return ((5 * r + 3 * g + 7 * b + 11 * expert + 13 * layer + 17 * kind) % 16)
                | (((7 * r + 5 * b + 3 * expert + 2 * layer + kind) % 16) << 4);
    }

    /** The reference script's {@code scales}: the exponent, plus 127, of group {@code g} of row {@code r}. */
    private static int packedScale(int layer, int kind, int expert, int r, int g) {
        return 124 + (r + 2 * g + expert + layer + kind) % 3;
    }

    /** Every layer's experts as MXFP4 blocks and scales, by name, as OpenAI's checkpoints store them. */
    private static Map<String, Tensor> packedExperts() {
        Map<String, Tensor> packed = new LinkedHashMap<>();
        for (int layer = 0; layer < 3; layer++) {
            String prefix = "model.layers." + layer + ".mlp.experts.";
            int[][] kinds = {{1, 2 * PACKED_WIDTH, HIDDEN}, {2, HIDDEN, PACKED_WIDTH}}; // kind, rows, columns
            String[] names = {"gate_up_proj", "down_proj"};
            for (int i = 0; i < 2; i++) {
                int kind = kinds[i][0];
                int rows = kinds[i][1];
                int groups = kinds[i][2] / 32;
                byte[] blocks = new byte[EXPERTS * rows * groups * 16];
                byte[] scales = new byte[EXPERTS * rows * groups];
                for (int e = 0; e < EXPERTS; e++) {
                    for (int r = 0; r < rows; r++) {
                        for (int g = 0; g < groups; g++) {
                            scales[(e * rows + r) * groups + g] = (byte) packedScale(layer, kind, e, r, g);
                            for (int b = 0; b < 16; b++) {
                                blocks[((e * rows + r) * groups + g) * 16 + b] = (byte) packedByte(layer, kind, e, r, g, b);
                            }
                        }
                    }
                }
                packed.put(prefix + names[i] + "_blocks", bytes(blocks, EXPERTS, rows, groups, 16));
                packed.put(prefix + names[i] + "_scales", bytes(scales, EXPERTS, rows, groups));
            }
        }
        return packed;
    }

    private static Tensor bytes(byte[] values, long... shape) {
        Tensor tensor = torch.empty(shape).to(torch.ScalarType.Byte);
        new BytePointer(tensor.data_ptr()).put(values);
        return tensor;
    }

    /**
     * Expert {@code expert}'s dequantized {@code [columns, rows]} value at {@code column}, {@code row}, read from the
     * formulas as the MXFP4 format defines it (the low 4 bits first), for comparison with the loader's.
     */
    private static float dequantized(int layer, int kind, int expert, int column, int row) {
        int packedByte = packedByte(layer, kind, expert, row, column / 32, column % 32 / 2);
        int code = column % 2 == 0 ? packedByte & 0x0F : packedByte >> 4;
        return FP4[code] * (float) Math.pow(2, packedScale(layer, kind, expert, row, column / 32) - 127);
    }

    @Test
    void load_mxfp4Checkpoint_dequantizesTheExpertsAsTransformers(@TempDir Path quantized) {
        LanguageModel packed = derive(quantized, PACKED_WIDTH, packedExperts());
        Tensor logits = packed.trace(SHORT_PROMPT, tr -> packed.output());

        Tensor gateUp = parameter(packed, "model.layers.0.mlp.experts", "gate_up_proj");
        Tensor down = parameter(packed, "model.layers.0.mlp.experts", "down_proj");
        // transformers 5.18 dequantizing the same checkpoint on the CPU (gpt_oss_references.py, "mxfp4")
        assertArrayEquals(new long[] {EXPERTS, HIDDEN, 2 * PACKED_WIDTH}, Tensors.shape(gateUp));
        assertArrayEquals(new long[] {EXPERTS, PACKED_WIDTH, HIDDEN}, Tensors.shape(down));
        Shared.assertClose(new double[] {-1.0, 0.0625, 1.0, -0.75}, gateUp.select(0, 1).select(0, 0), 0, "gate_up row 0");
        Shared.assertClose(new double[] {1.0, -0.1875, 0.25, -0.25}, gateUp.select(0, 1).select(0, 1), 0, "gate_up row 1");
        Shared.assertClose(new double[] {0.75, -0.0, -0.75, 0.5}, gateUp.select(0, 1).select(0, 2), 0, "gate_up row 2");
        Shared.assertClose(new double[] {-0.375, 0.25, 3.0, -0.25}, down.select(0, 1).select(0, 0), 0, "down row 0");
        assertEquals(5373.0, gateUp.abs().sum().item_double(), 0, "sum of |gate_up_proj|");
        assertEquals(2691.0, down.abs().sum().item_double(), 0, "sum of |down_proj|");
        for (int column = 0; column < HIDDEN; column += 7) { // the format, read from the formulas
            for (int row = 0; row < 2 * PACKED_WIDTH; row += 5) {
                assertEquals(dequantized(0, 1, 3, column, row),
                        gateUp.select(0, 3).select(0, column).select(0, row).item_double(), 0);
            }
        }
        assertTrue(torch.isfinite(logits).all().item_bool(), "the packed model's logits are finite");
    }

    @Test
    void load_mxfp4Checkpoint_missingItsScales_namesTheParameter(@TempDir Path quantized) {
        Map<String, Tensor> packed = packedExperts();
        packed.remove("model.layers.2.mlp.experts.down_proj_scales");

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> derive(quantized, PACKED_WIDTH, packed));

        assertTrue(refused.getMessage().contains("1 parameters have no weight (model.layers.2.mlp.experts.down_proj)"),
                refused.getMessage());
    }

    @Test
    void load_otherQuantization_isRefusedNamingItAndTheOneGptOssLoads(@TempDir Path quantized) {
        Shared.fixtureVariant("mistral-tiny", quantized, config -> {
            configure(config);
            JsonObject quantization = new JsonObject();
            quantization.addProperty("quant_method", "bitsandbytes");
            config.add("quantization_config", quantization);
        });

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(quantized.toString()));

        assertTrue(refused.getMessage().contains("quant_method: bitsandbytes")
                && refused.getMessage().contains("gpt_oss's mxfp4 is"), refused.getMessage());
    }

    private static Tensor parameter(LanguageModel model, String module, String name) {
        StringTensorDict parameters = model.get(module).module().named_parameters(false);
        for (long i = 0; i < parameters.size(); i++) {
            if (parameters.get(i).key().getString().equals(name)) {
                return parameters.get(i).value();
            }
        }
        throw new AssertionError(module + " has no parameter " + name);
    }

    private static List<String> names(Envoy envoy) {
        return envoy.children().stream().map(Envoy::name).toList();
    }
}
