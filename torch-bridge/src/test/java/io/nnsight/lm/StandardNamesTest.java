package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.Tensors;
import io.nnsight.safetensors.DType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The standard names ({@code embed}, {@code layers.N}, {@code layers.N.attn}, {@code layers.N.mlp}, {@code ln_final},
 * {@code lm_head}) of every architecture in {@code ../shared}, and two recipes written once with them that run
 * unchanged on all: a logit lens, and activation patching.
 */
class StandardNamesTest {
    private static final Map<String, LanguageModel> MODELS = new HashMap<>();
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";

    /** Every model of {@code ../shared}: stories260K, GPT-2 and the fixtures of the other families. */
    static List<String> models() {
        return List.of("models/stories260K", "fixtures/gpt2-tiny-random", "fixtures/pythia-tiny", "fixtures/qwen2-tiny",
                "fixtures/qwen3-tiny", "fixtures/mistral-tiny", "fixtures/gemma2-tiny", "fixtures/phi3-tiny",
                "fixtures/llama3-bf16-tiny");
    }

    private static synchronized LanguageModel model(String name) {
        return MODELS.computeIfAbsent(name, path -> {
            LanguageModel.Options options = LanguageModel.Options.defaults().dtype(DType.F32);
            if (path.contains("gpt2")) {
                options = options.tokenizer(Shared.path("tokenizers/gpt2/tokenizer.json"));
            }
            return LanguageModel.load(Shared.path(path).toString(), options);
        });
    }

    @ParameterizedTest
    @MethodSource("models")
    void standardNames_areTheFamilysMainModules(String name) {
        LanguageModel lm = model(name);
        ModulePaths paths = lm.paths();

        assertSame(lm.get(paths.embedding()), lm.get("embed"));
        assertSame(lm.get(paths.finalNorm()), lm.get("ln_final"));
        assertSame(lm.get(paths.lmHead()), lm.get("lm_head"));
        for (int i = 0; i < lm.layerCount(); i++) {
            assertSame(lm.get(paths.layer(i)), lm.get("layers." + i));
            assertSame(lm.get(paths.attention(i)), lm.get("layers." + i + ".attn"));
            assertSame(lm.get(paths.mlp(i)), lm.get("layers." + i + ".mlp"));
            assertEquals("layers." + i + ".attn", lm.get(paths.attention(i)).aliasedPath());
        }
        assertEquals(lm.layerCount(), lm.get("layers").children().size());
    }

    /** The logit lens, written once: each layer's last-position output through the final norm and the head. */
    static List<Tensor> logitLens(LanguageModel lm, String prompt) {
        return lm.trace(prompt, tr -> {
            List<Tensor> lens = new ArrayList<>();
            for (Envoy layer : lm.get("layers")) {
                Tensor last = layer.output().select(1, -1);
                lens.add(lm.get("lm_head").call(lm.get("ln_final").call(last)).select(0, 0));
            }
            lens.add(lm.get("lm_head").output().select(1, -1).select(0, 0));
            return lens;
        });
    }

    @ParameterizedTest
    @MethodSource("models")
    void logitLens_runsUnchanged_andItsLastLayerPredictsAsTheModelDoes(String name) {
        LanguageModel lm = model(name);

        List<Tensor> lens = logitLens(lm, PROMPT);

        assertEquals(lm.layerCount() + 1, lens.size());
        Tensor model = lens.get(lm.layerCount());
        Tensor lastLayer = lens.get(lm.layerCount() - 1);
        // the head's output itself, before any final soft-capping (Gemma 2), which keeps the order of the logits
        assertTrue(torch.allclose(lastLayer, model, 1e-4, 1e-4, false), name + ": the lens of the last layer is the "
                + "head's output; max difference " + lastLayer.sub(model).abs().max().item_double());
        assertArrayEquals(Tensors.topK(model, 5).indices(), Tensors.topK(lastLayer, 5).indices(), name);
        assertFalse(lens.get(0).equal(model), name + ": the first layer's lens differs from the model's prediction");
    }

    /** Activation patching, written once: the corrupted run with {@code layer}'s output taken from the clean run. */
    static Tensor patched(LanguageModel lm, long[] clean, long[] corrupted, String layer, boolean lastPositionOnly) {
        Invoke<Tensor> result = lm.trace(tr -> {
            Invoke<Tensor> source = tr.invoke(clean, () -> lm.get(layer).output().clone());
            return tr.invoke(corrupted, () -> {
                Tensor output = lm.get(layer).output();
                (lastPositionOnly ? output.select(1, -1) : output).copy_(
                        lastPositionOnly ? source.get().select(1, -1) : source.get());
                return lm.get("lm_head").output().select(1, -1).select(0, 0).clone();
            });
        });
        return result.get();
    }

    private static Tensor lastLogits(LanguageModel lm, long[] ids) {
        return lm.trace(ids, tr -> lm.get("lm_head").output().select(1, -1).select(0, 0));
    }

    @ParameterizedTest
    @MethodSource("models")
    void activationPatching_runsUnchanged_andRestoresWhatItPatches(String name) {
        LanguageModel lm = model(name);
        long[] clean = lm.tokenizer().encode(PROMPT);
        long[] corrupted = clean.clone();
        int position = corrupted.length - 2;           // within every sliding window of the last position
        corrupted[position] = (corrupted[position] + 7) % 64;
        Tensor cleanLogits = lastLogits(lm, clean);
        Tensor corruptedLogits = lastLogits(lm, corrupted);
        assertFalse(torch.allclose(cleanLogits, corruptedLogits, 1e-3, 1e-3, false), name + ": the prompts differ");

        Tensor wholeFirstLayer = patched(lm, clean, corrupted, "layers.0", false);
        Tensor lastPositionOfLastLayer = patched(lm, clean, corrupted, "layers." + (lm.layerCount() - 1), true);
        Tensor embeddings = patched(lm, clean, corrupted, "embed", false);

        assertClose(cleanLogits, wholeFirstLayer, name + ": all of layer 0 patched");
        assertClose(cleanLogits, lastPositionOfLastLayer, name + ": the last layer at the last position patched");
        assertClose(cleanLogits, embeddings, name + ": the embeddings patched");
    }

    private static void assertClose(Tensor expected, Tensor actual, String what) {
        assertTrue(torch.allclose(expected, actual, 1e-4, 1e-4, false),
                what + ": max difference " + expected.sub(actual).abs().max().item_double());
    }
}
