package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.nnsight.Cache;
import io.nnsight.NNsight;
import io.nnsight.Tensors;
import io.nnsight.TraceException;
import io.nnsight.internal.engine.ThreadEngine;
import io.nnsight.nn.Mlp;
import io.nnsight.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code scan}: a trace's body run on the model's copy on the meta device. Shapes against nnsight 0.6.3's {@code
 * model.scan} ({@code shared/models/stories260K/reference-extras.json}, {@code scan_output_shapes}), against a real
 * trace for every module of every architecture in {@code ../shared}, replacements checked as in a trace, and a
 * scan of Llama 3.1 8B's configuration, loaded without weights, in no weight memory.
 */
class ScanTest {
    private static LanguageModel lm;
    private static JsonObject extras;
    private static String prompt;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        extras = Shared.reference("models/stories260K/reference-extras.json");
        prompt = extras.get("prompt").getAsString();
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    @Test
    void scan_outputShapes_matchNnsightsScan() {
        JsonObject expected = extras.getAsJsonObject("scan_output_shapes");
        Map<String, Tensor> outputs = lm.scan(prompt, tr -> {
            Map<String, Tensor> read = new LinkedHashMap<>();
            for (String path : expected.keySet()) {
                read.put(path, lm.get(path).output());
            }
            return read;
        });

        for (Map.Entry<String, JsonElement> module : expected.entrySet()) {
            long[] shape = new long[module.getValue().getAsJsonArray().size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = module.getValue().getAsJsonArray().get(i).getAsLong();
            }
            Tensor output = outputs.get(module.getKey());
            assertArrayEquals(shape, Tensors.shape(output), module.getKey());
            assertTrue(output.is_meta(), module.getKey() + " has no values");
            assertEquals(torch.ScalarType.Float.value, output.scalar_type().value, module.getKey());
        }
    }

    /** Every model of {@code ../shared}, in its checkpoint's type (bfloat16 for the Llama 3 fixture). */
    static List<String> models() {
        return StandardNamesTest.models();
    }

    @ParameterizedTest
    @MethodSource("models")
    void scan_everyModulesOutput_hasTheShapeAndTypeOfATracesOutput(String name) {
        LanguageModel.Options options = LanguageModel.Options.defaults();
        if (name.contains("gpt2")) {
            options = options.tokenizer(Shared.path("tokenizers/gpt2/tokenizer.json"));
        }
        LanguageModel model = LanguageModel.load(Shared.path(name).toString(), options);
        List<String> prompts = List.of("Once upon a time", "Lily and Tom went to the park together");

        Cache traced = model.trace(prompts, tr -> tr.cache());
        Cache scanned = model.scan(prompts, tr -> tr.cache());

        for (String path : traced.modules().keySet()) {
            Object real = traced.calls(path).get(0).output();
            Object shape = scanned.calls(path).get(0).output();
            Tensor first = real instanceof Tensor tensor ? tensor : (Tensor) ((List<?>) real).get(0);
            Tensor scannedFirst = shape instanceof Tensor tensor ? tensor : (Tensor) ((List<?>) shape).get(0);
            assertArrayEquals(Tensors.shape(first), Tensors.shape(scannedFirst), name + " " + path);
            assertEquals(first.scalar_type().value, scannedFirst.scalar_type().value, name + " " + path);
            assertTrue(scannedFirst.is_meta(), name + " " + path);
        }
    }

    @Test
    void scan_replacementOfTheWrongShape_failsAsInATrace() {
        String layer = "model.layers.1";
        TraceException inTrace = assertThrows(TraceException.class,
                () -> lm.trace(prompt, tr -> {
                    lm.get(layer).setOutput(torch.zeros(1, 3, 64));
                    return null;
                }));
        TraceException inScan = assertThrows(TraceException.class,
                () -> lm.scan(prompt, tr -> {
                    lm.get(layer).setOutput(torch.zeros(1, 3, 64));
                    return null;
                }));

        assertEquals(inTrace.getMessage(), inScan.getMessage());
        assertTrue(inScan.getMessage().contains("[1, 3, 64]") && inScan.getMessage().contains("[1, 22, 64]"),
                inScan.getMessage());
    }

    @Test
    void scan_replacementOfTheRightShape_fromTheHost_runsOnThrough() {
        Tensor logits = lm.scan(prompt, tr -> {
            lm.get("layers.1").setOutput(torch.zeros(1, 22, 64));
            return lm.get("lm_head").output();
        });

        assertArrayEquals(new long[] {1, 22, 512}, Tensors.shape(logits));
        assertTrue(logits.is_meta());
    }

    @Test
    void scan_ofAnEditedModel_runsTheEdits_andChecksThem() {
        LanguageModel wrongEdit = lm.edit(tr -> {
            lm.get("layers.0").setOutput(torch.zeros(1, 2, 64));
            return null;
        });

        TraceException e = assertThrows(TraceException.class, () -> wrongEdit.scan(prompt, tr -> null));
        long[] shape = lm.edit(tr -> {
            lm.get("layers.0.mlp").output().zero_();
            return null;
        }).scan(prompt, tr -> Tensors.shape(lm.get("lm_head").output()));

        assertTrue(e.getMessage().contains("[1, 2, 64]"), e.getMessage());
        assertArrayEquals(new long[] {1, 22, 512}, shape);
    }

    @Test
    void scan_changesNothing_laterTracesGiveTheSameLogits() {
        Tensor before = lm.trace(prompt, tr -> lm.get("lm_head").output());
        lm.scan(prompt, tr -> lm.get("model.layers.2.mlp").output().zero_());
        Tensor after = lm.trace(prompt, tr -> lm.get("lm_head").output());

        assertTrue(torch.equal(before, after));
    }

    @Test
    void scan_ofAnOperationWithoutAMetaKernel_namesIt_andLeavesTheModelUsable() {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> lm.scan(prompt, tr -> lm.get("layers.0").output().flip(1)));

        assertTrue(e.getMessage().contains("aten::flip") && e.getMessage().contains("trace on a short input"),
                e.getMessage());
        assertArrayEquals(new long[] {1, 22, 512}, lm.scan(prompt, tr -> Tensors.shape(lm.get("lm_head").output())));
        assertArrayEquals(new long[] {1, 22, 64}, Tensors.shape(lm.trace(prompt, tr -> lm.get("layers.0").output())));
    }

    @Test
    void scan_ofAModelYouBuilt_isRefused_sayingWhatToDo() {
        NNsight mlp = NNsight.wrap(new Mlp(8, 2, 4));

        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> mlp.scan(torch.randn(1, 8), tr -> mlp.get("layer1").output()));

        assertTrue(e.getMessage().contains("meta device") && e.getMessage().contains("small input"), e.getMessage());
    }

    /** Llama 3.1 8B's config.json (8 billion parameters, 16 GB in bfloat16) without its weights. */
    private static final String LLAMA_3_1_8B = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
             "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
             "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
             "rms_norm_eps": 1e-05, "hidden_act": "silu", "tie_word_embeddings": false, "dtype": "bfloat16",
             "bos_token_id": 128000, "eos_token_id": 128001,
             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192}, "rope_theta": 500000.0}
            """;

    @Test
    void scan_ofAMultiBillionParameterConfig_allocatesNoWeights(@TempDir Path folder) throws IOException {
        Files.writeString(folder.resolve("config.json"), LLAMA_3_1_8B);
        long virtualBefore = virtualBytes();
        long physicalBefore = Pointer.physicalBytes();

        LanguageModel big = LanguageModel.load(folder.toString(), LanguageModel.Options.defaults().device("meta")
                .tokenizer(Shared.path("models/stories260K/tokenizer.json")));
        Map<String, long[]> shapes = big.scan(prompt, tr -> Map.of(
                "layers.31.mlp", Tensors.shape(lm(big, "layers.31.mlp")),
                "lm_head", Tensors.shape(lm(big, "lm_head"))));

        long virtualGrowth = virtualBytes() - virtualBefore;
        long physicalGrowth = Pointer.physicalBytes() - physicalBefore;
        assertArrayEquals(new long[] {1, 22, 4096}, shapes.get("layers.31.mlp"));
        assertArrayEquals(new long[] {1, 22, 128256}, shapes.get("lm_head"));
        assertEquals(DType.BF16, big.dtype());
        assertEquals("meta", big.device());
        // the weights would be 16 GB; what grew is the modules' Java objects and libtorch's bookkeeping
        assertTrue(virtualGrowth < 2L << 30, "virtual memory grew by " + virtualGrowth / (1 << 20) + " MiB");
        assertTrue(physicalGrowth < 512L << 20, "resident memory grew by " + physicalGrowth / (1 << 20) + " MiB");
    }

    @Test
    void modelLoadedOnMeta_tracesShapes_butRefusesToGenerate(@TempDir Path folder) throws IOException {
        Files.writeString(folder.resolve("config.json"), LLAMA_3_1_8B);
        LanguageModel big = LanguageModel.load(folder.toString(), LanguageModel.Options.defaults().device("meta")
                .tokenizer(Shared.path("models/stories260K/tokenizer.json")));

        Tensor logits = big.trace("Once upon a time", tr -> big.get("lm_head").output());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> big.generate("Once upon a time", Generation.maxNewTokens(2)));

        assertArrayEquals(new long[] {1, 5, 128256}, Tensors.shape(logits));
        assertTrue(e.getMessage().contains("meta device") && e.getMessage().contains("device(\"cpu\")"), e.getMessage());
    }

    private static Tensor lm(LanguageModel model, String path) {
        return model.get(path).output();
    }

    /** The process's virtual memory size ({@code VmSize} of {@code /proc/self/status}), where a reservation shows. */
    private static long virtualBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmSize:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmSize in /proc/self/status");
    }
}
