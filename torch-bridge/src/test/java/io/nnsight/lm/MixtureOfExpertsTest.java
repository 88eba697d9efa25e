package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Cache;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.Tensors;
import io.nnsight.lm.families.HfConfig;
import io.nnsight.lm.families.Qwen2;
import io.nnsight.lm.families.Qwen2Moe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Mixtures of experts against transformers 5.18 in float32, each derived from a shared fixture in a temporary folder,
 * with 4 experts of which each token takes 2, every router and expert weight given by {@link Shared#formulaMatrix}, and the
 * experts stored as the Hub's checkpoints store them (each expert's weights apart):
 * <ul>
 *   <li>Mixtral ({@code mixtral}) from {@code mistral-tiny}, its experts {@code block_sparse_moe.experts.E.w1},
 *       {@code w2}, {@code w3};
 *   <li>Qwen 3 MoE ({@code qwen3_moe}) from {@code qwen3-tiny}: experts of 24 features, renormalised, in layers 0
 *       and 2, layer 1 keeping its dense MLP;
 *   <li>Qwen 2 MoE ({@code qwen2_moe}) from {@code mistral-tiny}: experts of 24 features, not renormalised, and a
 *       shared expert of 40 features gated by {@code shared_expert_gate}, in layers 0 and 2; biases on the query,
 *       key and value projections;
 *   <li>OLMoE ({@code olmoe}) from {@code mistral-tiny}: not renormalised, query and key norms over whole projections,
 *       queries, keys and values clipped to [-0.3, 0.3].
 * </ul>
 * The numbers are printed by {@code src/test/python/moe_references.py}.
 */
class MixtureOfExpertsTest {
    private static final String SHORT_PROMPT = "Once upon a time, there was a girl";
    private static final String LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play";
    private static final int EXPERTS = 4;

    @TempDir
    Path folder;

    /**
     * What transformers gives for {@code prompt} on {@code family}: the first 8 of each value at the last position,
     * layer 0's router logits there and the two experts it picks, best first.
     */
    record Expected(String family, String prompt, int tokens, double[] logits, double sum, double l2, double[] layer1,
            double[] router, long[] experts, long[] greedy) {
        @Override
        public String toString() {
            return family + ", " + tokens + " tokens";
        }
    }

    static Stream<Expected> cases() {
        return Stream.of(
            new Expected("mixtral", SHORT_PROMPT, 12,
                new double[] {-0.111392, -0.110643, 0.0024982, 0.0621238, -0.0746993, 0.0895322, -0.026081, -0.1251281},
                -0.486892, 2.607951,
                new double[] {-0.012078, 0.0116781, -0.0057098, 0.0037768, 0.0122592, -0.0225964, 0.0003022, 0.0078093},
                new double[] {-0.162941, 0.2552425, 0.6934065, -0.2907235}, new long[] {2, 1},
                new long[] {444, 485, 326, 337, 73, 321, 506, 242, 308, 399}),
            new Expected("mixtral", LONG_PROMPT, 21,
                new double[] {0.1147116, 0.0263451, -0.1746942, 0.1834638, 0.0334166, -0.0148244, 0.2395265, -0.0499752},
                2.566674, 2.257552,
                new double[] {-0.0004932, 0.0123236, 0.0061518, -0.0252399, -0.0127961, 0.0147134, 0.0147704, -0.0363908},
                new double[] {-0.2595832, 0.0593664, -0.1611171, 0.2952518}, new long[] {3, 1},
                new long[] {216, 387, 184, 337, 274, 321, 148, 20, 470, 173}),
            new Expected("qwen3_moe", SHORT_PROMPT, 12,
                new double[] {-0.0674786, -0.0328373, 0.0884535, -0.2514842, 0.0355673, 0.1556627, -0.0383217, -0.1255515},
                -2.831393, 2.464637,
                new double[] {-0.0371191, 0.0266504, -0.0205695, 0.0247252, 0.0259218, 0.0291029, 0.0045492, 0.0248076},
                new double[] {0.7473708, 0.1852579, -0.7165606, -0.1666911}, new long[] {0, 1},
                new long[] {421, 421, 421, 421, 421, 421, 421, 421, 421, 421}),
            new Expected("qwen3_moe", LONG_PROMPT, 21,
                new double[] {-0.1966411, -0.1339714, 0.125829, -0.1596319, -0.0108007, -0.0750545, 0.0757923, 0.0620834},
                -1.643093, 2.662537,
                new double[] {-0.0101436, 0.0005432, 0.04229, 0.0108468, 0.0132126, -0.0093465, -0.0027956, 0.0065789},
                new double[] {0.3228655, -0.4099523, 0.0633533, 0.3091837}, new long[] {0, 3},
                new long[] {200, 200, 200, 200, 200, 200, 200, 200, 200, 200}),
            new Expected("qwen2_moe", SHORT_PROMPT, 12,
                new double[] {0.124486, 0.0622489, -0.0313118, 0.1739591, -0.0695672, 0.0395123, -0.1228607, 0.0940116},
                -2.476565, 2.49716,
                new double[] {-0.0285209, 0.0093936, 0.0125522, -0.0122065, -0.0527485, 0.0339682, 0.0302978, 0.0052981},
                new double[] {-0.1088057, 0.4526574, 0.5208983, -0.3166614}, new long[] {2, 1},
                new long[] {337, 114, 73, 80, 434, 46, 431, 254, 321, 253}),
            new Expected("qwen2_moe", LONG_PROMPT, 21,
                new double[] {0.243205, 0.111946, -0.1333378, 0.0937702, -0.0618787, 0.0497194, 0.1910548, -0.0345122},
                -1.308709, 2.401699,
                new double[] {-0.0328426, 0.0110702, 0.0088767, -0.0020066, -0.0148835, 0.0170634, 0.0251909, 0.0019839},
                new double[] {-0.2706261, 0.1320177, -0.0197152, 0.055922}, new long[] {1, 3},
                new long[] {114, 73, 246, 63, 452, 18, 375, 114, 73, 246}),
            new Expected("olmoe", SHORT_PROMPT, 12,
                new double[] {-0.0958579, -0.0993853, 0.1218392, 0.0747732, -0.1578406, 0.1224468, -0.1483547, -0.0059745},
                -1.599049, 2.607067,
                new double[] {-0.0258529, 0.0068983, 0.0112761, 0.001982, -0.0084331, -0.0150102, 0.0025597, 0.0158157},
                new double[] {-0.1325938, 0.2638243, 0.6274189, -0.2581394}, new long[] {2, 1},
                new long[] {63, 376, 248, 248, 225, 184, 452, 331, 12, 188}),
            new Expected("olmoe", LONG_PROMPT, 21,
                new double[] {0.1519985, 0.0016347, -0.1733948, 0.1332773, -0.0517987, 0.1323077, 0.1555981, -0.1082279},
                -2.316121, 2.493115,
                new double[] {-0.0207451, 0.0016063, 0.0038717, -0.0012745, 0.0123986, -0.0031325, -0.0017711, 0.0020353},
                new double[] {-0.348928, -0.0150885, 0.1548388, 0.1042044}, new long[] {2, 3},
                new long[] {281, 277, 407, 339, 170, 231, 474, 76, 183, 289}));
    }

    /** The derived model of {@code family}. */
    private LanguageModel model(String family) {
        switch (family) {
            case "mixtral":
                return derive("mistral-tiny", "MixtralForCausalLM", config -> {
                    config.addProperty("num_local_experts", EXPERTS);
                    config.addProperty("num_experts_per_tok", 2);
                }, List.of(0, 1, 2), 72, "block_sparse_moe", List.of("w1", "w2", "w3"), false, Map.of());
            case "qwen3_moe":
                return derive("qwen3-tiny", "Qwen3MoeForCausalLM", config -> {
                    config.addProperty("num_experts", EXPERTS);
                    config.addProperty("num_experts_per_tok", 2);
                    config.addProperty("norm_topk_prob", true);
                    config.addProperty("moe_intermediate_size", 24);
                    config.addProperty("decoder_sparse_step", 1);
                    JsonArray dense = new JsonArray();
                    dense.add(1);
                    config.add("mlp_only_layers", dense);
                }, List.of(0, 2), 24, "mlp", List.of("gate_proj", "down_proj", "up_proj"), false, Map.of());
            case "qwen2_moe":
                return derive("mistral-tiny", "Qwen2MoeForCausalLM", config -> {
                    config.remove("sliding_window");
                    config.addProperty("num_experts", EXPERTS);
                    config.addProperty("num_experts_per_tok", 2);
                    config.addProperty("norm_topk_prob", false);
                    config.addProperty("moe_intermediate_size", 24);
                    config.addProperty("shared_expert_intermediate_size", 40);
                    config.addProperty("decoder_sparse_step", 1);
                    config.addProperty("qkv_bias", true);
                    JsonArray dense = new JsonArray();
                    dense.add(1);
                    config.add("mlp_only_layers", dense);
                }, List.of(0, 2), 24, "mlp", List.of("gate_proj", "down_proj", "up_proj"), false,
                        sharedExpertsAndBiases(List.of(0, 2), 40));
            default:
                return derive("mistral-tiny", "OlmoeForCausalLM", config -> {
                    config.remove("sliding_window");
                    config.addProperty("num_experts", EXPERTS);
                    config.addProperty("num_experts_per_tok", 2);
                    config.addProperty("norm_topk_prob", false);
                    config.addProperty("clip_qkv", 0.3);
                }, List.of(0, 1, 2), 72, "mlp", List.of("gate_proj", "down_proj", "up_proj"), true, Map.of());
        }
    }

    /**
     * Qwen 2 MoE's weights that {@code mistral-tiny} lacks: a shared expert of {@code width} features and its gate in
     * each of {@code layers} (kinds 4 to 7), and biases on every layer's query, key and value projections ({@code
     * ((3j + 5l + 7k) % 11 - 5) / 50}, kinds 8 to 10).
     */
    private static Map<String, Shared.Weight> sharedExpertsAndBiases(List<Integer> layers, int width) {
        Map<String, Shared.Weight> added = new LinkedHashMap<>();
        for (int layer : layers) {
            String prefix = "model.layers." + layer + ".mlp.";
            added.put(prefix + "shared_expert.gate_proj.weight", Shared.formulaMatrix(layer, 4, 0, width, 32));
            added.put(prefix + "shared_expert.up_proj.weight", Shared.formulaMatrix(layer, 5, 0, width, 32));
            added.put(prefix + "shared_expert.down_proj.weight", Shared.formulaMatrix(layer, 6, 0, 32, width));
            added.put(prefix + "shared_expert_gate.weight", Shared.formulaMatrix(layer, 7, 0, 1, 32));
        }
        for (int layer = 0; layer < 3; layer++) {
            int l = layer;
            String prefix = "model.layers." + layer + ".self_attn.";
            added.put(prefix + "q_proj.bias", Shared.vector(32, j -> ((3 * j + 5 * l + 7 * 8) % 11 - 5) / 50.0));
            added.put(prefix + "k_proj.bias", Shared.vector(16, j -> ((3 * j + 5 * l + 7 * 9) % 11 - 5) / 50.0));
            added.put(prefix + "v_proj.bias", Shared.vector(16, j -> ((3 * j + 5 * l + 7 * 10) % 11 - 5) / 50.0));
        }
        return added;
    }

    /**
     * {@code fixture} as {@code architecture}, its config changed by {@code change}, the MLPs of {@code layers} made
     * experts of {@code width} features under {@code block} named {@code kinds} (gate, down, up), with OLMo's query and
     * key norms if {@code projectionNorms}, and the weights {@code extra} added.
     */
    private LanguageModel derive(String fixture, String architecture, Consumer<JsonObject> change, List<Integer> layers,
            int width, String block, List<String> kinds, boolean projectionNorms, Map<String, Shared.Weight> extra) {
        Shared.fixtureVariant(fixture, folder, config -> {
            String type = switch (architecture) {
                case "MixtralForCausalLM" -> "mixtral";
                case "Qwen3MoeForCausalLM" -> "qwen3_moe";
                case "Qwen2MoeForCausalLM" -> "qwen2_moe";
                default -> "olmoe";
            };
            config.addProperty("model_type", type);
            JsonArray architectures = new JsonArray();
            architectures.add(architecture);
            config.add("architectures", architectures);
            change.accept(config);
        });
        List<String> removed = new ArrayList<>();
        Map<String, Shared.Weight> added = new LinkedHashMap<>();
        for (int layer : layers) {
            String prefix = "model.layers." + layer + ".";
            for (String mlp : List.of("gate_proj", "up_proj", "down_proj")) {
                removed.add(prefix + "mlp." + mlp + ".weight");
            }
            added.put(prefix + block + ".gate.weight", Shared.formulaMatrix(layer, 0, 0, EXPERTS, 32));
            for (int expert = 0; expert < EXPERTS; expert++) { // each fills a part of a stacked parameter
                String experts = prefix + block + ".experts." + expert + ".";
                added.put(experts + kinds.get(0) + ".weight", Shared.formulaMatrix(layer, 1, expert, width, 32));
                added.put(experts + kinds.get(1) + ".weight", Shared.formulaMatrix(layer, 2, expert, 32, width));
                added.put(experts + kinds.get(2) + ".weight", Shared.formulaMatrix(layer, 3, expert, width, 32));
            }
        }
        for (int layer = 0; projectionNorms && layer < 3; layer++) {
            int i = layer;
            added.put("model.layers." + layer + ".self_attn.q_norm.weight", Shared.vector(32, j -> 1 + 0.05 * (j % 5 - 2) + 0.03 * i));
            added.put("model.layers." + layer + ".self_attn.k_norm.weight", Shared.vector(16, j -> 1 - 0.04 * (j % 3 - 1) + 0.02 * i));
        }
        added.putAll(extra);
        Shared.replaceShapedWeights(folder.resolve("model.safetensors"), name -> name, removed, added);
        return LanguageModel.load(folder.toString());
    }

    @ParameterizedTest
    @MethodSource("cases")
    void logitsALayersOutputAndTheRouter_matchTransformers(Expected expected) {
        LanguageModel lm = model(expected.family());

        List<Tensor> seen = lm.trace(expected.prompt(), tr -> {
            @SuppressWarnings("unchecked")
            List<Tensor> routed = lm.get("model.layers.0.mlp.gate").output(List.class);
            return List.of(routed.get(0).select(0, -1), routed.get(2).select(0, -1),
                    lm.get("model.layers.1").output().select(0, 0).select(0, -1), lm.output().select(0, 0).select(0, -1));
        });

        assertEquals(expected.tokens(), lm.tokenizer().encode(expected.prompt()).length);
        Shared.assertClose(expected.router(), seen.get(0), 1e-5, "layer 0's router logits");
        assertArrayEquals(expected.experts(), Tensors.longs(seen.get(1)), "the experts layer 0 picks");
        Shared.assertClose(expected.layer1(), seen.get(2), 1e-5, "layer 1's output");
        Shared.assertLogits(expected.logits(), expected.sum(), expected.l2(), seen.get(3));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void greedyTenTokens_matchTransformersTokenForToken(Expected expected) {
        long[] ids = model(expected.family()).generate(expected.prompt(), Generation.maxNewTokens(10)).ids(0);

        assertArrayEquals(expected.greedy(), Arrays.copyOfRange(ids, expected.tokens(), ids.length));
    }

    @ParameterizedTest
    @ValueSource(strings = {"mixtral", "qwen3_moe", "qwen2_moe", "olmoe"})
    void batchedPrompts_padded_giveEachPromptsLogitsAlone(String family) {
        List<Expected> expected = cases().filter(each -> each.family().equals(family)).toList();
        LanguageModel lm = model(family);

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke(SHORT_PROMPT, () -> lm.output().select(1, -1).select(0, 0)),
                tr.invoke(LONG_PROMPT, () -> lm.output().select(1, -1).select(0, 0))));

        Shared.assertClose(expected.get(0).logits(), batched.get(0).get(), 1e-5, "short prompt's logits, batched");
        Shared.assertClose(expected.get(1).logits(), batched.get(1).get(), 1e-5, "long prompt's logits, batched");
    }

    @Test
    void load_checkpointMissingAnExpertsWeight_namesTheStackedParameter(@TempDir Path broken) throws IOException {
        model("mixtral");
        try (Stream<Path> files = Files.list(folder)) { // a copy: the model loaded maps the folder's checkpoint
            for (Path file : files.toList()) {
                Files.copy(file, broken.resolve(file.getFileName()));
            }
        }
        Shared.replaceWeights(broken.resolve("model.safetensors"),
                List.of("model.layers.2.block_sparse_moe.experts.3.w2.weight"), Map.of());

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.load(broken.toString()));

        assertTrue(refused.getMessage().contains("1 parameters have no weight (model.layers.2.mlp.experts.down_proj)"),
                refused.getMessage());
    }

    @Test
    void backward_throughTheRouterAndTheExperts_givesTransformersGradient() {
        LanguageModel lm = model("mixtral");

        Tensor grad = lm.trace(SHORT_PROMPT, tr -> {
            lm.get("model.layers.0").output();
            Tensor last = lm.get("lm_head").output().select(0, 0).select(0, -1);
            Tensor metric = last.select(0, 5).sub(last.select(0, 7));
            return tr.backward(metric, () -> lm.get("model.layers.0").grad().select(0, 0).select(0, -1));
        });

        Shared.assertClose(new double[] {-0.7230155, 1.2222286, -1.1570406, 0.6288217, 0.0927653, 0.9883537, -0.6286274,
            0.0400935}, grad, 1e-4, "the gradient of logit 5 less logit 7 w.r.t. layer 0's output");
    }

    @Test
    void cache_recordsTheRoutersOutputsAndTheExperts() {
        LanguageModel lm = model("mixtral");

        Cache cache = lm.trace(SHORT_PROMPT, tr -> tr.cache());

        @SuppressWarnings("unchecked")
        List<Tensor> routed = (List<Tensor>) cache.calls("model.layers.0.mlp.gate").get(0).output();
        assertArrayEquals(new long[] {12, EXPERTS}, Tensors.shape(routed.get(0)), "router logits over all tokens");
        assertArrayEquals(new long[] {2, 1}, Tensors.longs(routed.get(2).select(0, -1)), "the last token's experts");
        assertArrayEquals(new long[] {12, 32}, Tensors.shape(cache.output("model.layers.0.mlp.experts")));
    }

    @Test
    void experts_zeroedByATrace_leaveOnlyTheResidualStream() {
        LanguageModel lm = model("mixtral");

        Tensor[] seen = lm.trace(SHORT_PROMPT, tr -> {
            Tensor attended = lm.get("model.layers.0.post_attention_layernorm").input().clone();
            lm.get("model.layers.0.mlp.experts").output().zero_();
            return new Tensor[] {attended, lm.get("model.layers.0").output()};
        });

        assertTrue(torch.allclose(seen[0], seen[1], 0, 0, false), "layer 0's output is its input plus attention alone");
    }

    @Test
    void moduleTree_hasTransformers5sNames_denseLayersKeepTheirMlp_andAScanGivesTheBlocksShape() {
        LanguageModel lm = model("qwen3_moe");

        Tensor scanned = lm.scan(SHORT_PROMPT, tr -> lm.get("layers.0.mlp").output());

        assertEquals(List.of("gate", "experts"), names(lm.get("layers.0.mlp")));
        assertEquals(List.of("act_fn"), names(lm.get("layers.0.mlp.experts")));
        assertEquals(List.of("gate_proj", "up_proj", "down_proj", "act_fn"), names(lm.get("layers.1.mlp")));
        assertArrayEquals(new long[] {1, 12, 32}, Tensors.shape(scanned));
    }

    @Test
    void sharedExpert_gatedBySigmoid_addsToTheRoutedExperts_inTransformersOrder() {
        LanguageModel lm = model("qwen2_moe");

        // read in the order the block runs them: shared_expert, gate, experts, shared_expert_gate
        Tensor[] seen = lm.trace(SHORT_PROMPT, tr -> new Tensor[] {
            lm.get("model.layers.0.mlp.shared_expert").output().clone(),
            lm.get("model.layers.0.mlp.experts").output().clone(),
            lm.get("model.layers.0.mlp.shared_expert_gate").output().clone(),
            lm.get("model.layers.0.mlp").output()});

        assertEquals(List.of("gate", "experts", "shared_expert", "shared_expert_gate"), names(lm.get("layers.0.mlp")));
        assertEquals(List.of("gate_proj", "up_proj", "down_proj", "act_fn"),
                names(lm.get("layers.0.mlp.shared_expert")));
        assertArrayEquals(new long[] {12, 1}, Tensors.shape(seen[2]), "one gate value per token");
        Tensor expected = seen[1].add(torch.sigmoid(seen[2]).mul(seen[0])).reshape(1, 12, 32);
        assertTrue(torch.allclose(expected, seen[3], 0, 1e-6, false), "experts + sigmoid(gate) * shared expert");
        assertTrue(seen[0].abs().max().item_double() > 1e-3, "the shared expert contributes");
    }

    @Test
    void windows_withUseSlidingWindow_followTransformersDefaultLayerTypes() throws IOException {
        // transformers 5.18, 3 layers, max_window_layers 2: Qwen2MoeConfig's layer_types are [sliding, full, full],
        // Qwen2Config's [full, full, sliding]
        Shared.fixtureVariant("mistral-tiny", folder, config -> {
            config.addProperty("use_sliding_window", true);
            config.addProperty("sliding_window", 4);
            config.addProperty("max_window_layers", 2);
            config.addProperty("num_experts", EXPERTS);
            config.addProperty("num_experts_per_tok", 2);
        });
        HfConfig config = HfConfig.read(folder.resolve("config.json"));

        assertTrue(new Qwen2Moe().decoder(config).toString().contains("windows=[4, 0, 0]"));
        assertTrue(new Qwen2().decoder(config).toString().contains("windows=[0, 0, 4]"));
    }

    private static List<String> names(Envoy envoy) {
        return envoy.children().stream().map(Envoy::name).toList();
    }
}
