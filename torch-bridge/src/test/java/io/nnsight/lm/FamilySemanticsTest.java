package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Invoke;
import io.nnsight.Operation;
import io.nnsight.Tensors;
import io.nnsight.internal.engine.ThreadEngine;
import io.nnsight.spi.NativeHookPoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The trace semantics on the new families, not only on Llama: invokes with their own rows, prompts of different
 * lengths batched with left padding (with sliding windows: Mistral, Gemma 2), values passed between invokes, the
 * steps of a generation as iterations (with the key/value cache, an intervention at every step agreeing with one
 * forward pass over the whole sequence), {@code .source} operations inside a family's MLP, and GPT-NeoX's parallel
 * and sequential residual streams.
 */
class FamilySemanticsTest {
    private static final String SHORT = "Lily and Tom";
    private static final String LONG = "Once upon a time, there was a little girl named Lily. She loved to play";

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    private static Tensor lastLogits(LanguageModel lm, Object prompt) {
        return lm.trace(prompt, tr -> lm.output().select(1, -1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"pythia-tiny", "qwen3-tiny", "gemma2-tiny", "mistral-tiny", "phi3-tiny"})
    void promptsOfDifferentLengths_inInvokes_getTheLogitsTheyGetAlone(String fixture) {
        LanguageModel lm = FamilyReferenceTest.model(fixture);

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke(SHORT, () -> lm.output().select(1, -1)),
                tr.invoke(LONG, () -> lm.output().select(1, -1))));

        assertTrue(torch.allclose(lastLogits(lm, SHORT), batched.get(0).get(), 0, 1e-5, false), fixture + " short");
        assertTrue(torch.allclose(lastLogits(lm, LONG), batched.get(1).get(), 0, 1e-5, false), fixture + " long");
    }

    @ParameterizedTest
    @ValueSource(strings = {"pythia-tiny", "qwen3-tiny", "gemma2-tiny", "mistral-tiny", "phi3-tiny"})
    void aLayerOutputPatchedFromOneInvokeIntoAnother_carriesItsLogits(String fixture) {
        LanguageModel lm = FamilyReferenceTest.model(fixture);
        long[] clean = Arrays.copyOf(lm.tokenizer().encode(LONG), 10);
        long[] corrupted = clean.clone();
        corrupted[4] = 300;
        String last = lm.paths().layer(lm.layerCount() - 1);

        List<Invoke<Tensor>> runs = lm.trace(tr -> {
            Invoke<Tensor> source = tr.invoke(clean, () -> lm.get(last).output().clone());
            Invoke<Tensor> patched = tr.invoke(corrupted, () -> {
                lm.get(last).setOutput(source.get());
                return lm.output().select(1, -1);
            });
            return List.of(source, patched);
        });

        assertTrue(torch.allclose(lastLogits(lm, clean), runs.get(1).get(), 0, 1e-5, false), fixture);
    }

    @ParameterizedTest
    @ValueSource(strings = {"pythia-tiny", "qwen3-tiny", "gemma2-tiny", "mistral-tiny", "phi3-tiny"})
    void generationSteps_areIterations_andTheStreamerGivesEachStepsArgmax(String fixture) {
        LanguageModel lm = FamilyReferenceTest.model(fixture);

        List<long[]> steps = lm.generate(LONG, Generation.maxNewTokens(4).stopAtEos(false), tr -> {
            List<long[]> seen = new ArrayList<>();
            for (int step : tr.all()) {
                Tensor logits = lm.output();
                seen.add(new long[] {logits.size(1), logits.select(1, -1).argmax().item_long(),
                    lm.get("generator.streamer").output().item_long()});
            }
            return seen;
        });

        assertEquals(4, steps.size());
        assertEquals(lm.tokenizer().encode(LONG).length, steps.get(0)[0], "step 0 runs the prompt");
        for (long[] step : steps) {
            assertEquals(step[1], step[2], fixture + ": the streamer's token is the argmax");
        }
        assertEquals(1, steps.get(3)[0], "later steps run one token on the cache");
    }

    @ParameterizedTest
    @ValueSource(strings = {"pythia-tiny", "qwen3-tiny", "gemma2-tiny", "mistral-tiny", "phi3-tiny"})
    void anInterventionAtEveryStep_agreesWithOneForwardOverTheWholeSequence(String fixture) {
        LanguageModel lm = FamilyReferenceTest.model(fixture);
        String mlp = lm.paths().mlp(1);

        Tensor ids = lm.generate(LONG, Generation.maxNewTokens(8).stopAtEos(false), tr -> {
            for (int step : tr.all()) {
                lm.get(mlp).output().mul_(new org.bytedeco.pytorch.Scalar(-2.0));
            }
            return lm.generator().output();
        });
        long[] all = Tensors.longs(ids.select(0, 0));
        int prompt = all.length - 8;
        Tensor logits = lm.trace(Arrays.copyOf(all, all.length - 1), tr -> {
            lm.get(mlp).output().mul_(new org.bytedeco.pytorch.Scalar(-2.0));
            return lm.output().select(0, 0);
        });

        long[] predicted = Tensors.longs(logits.narrow(0, prompt - 1, 8).argmax(new org.bytedeco.pytorch.LongOptional(-1),
                false));
        assertArrayEquals(Arrays.copyOfRange(all, prompt, all.length), predicted, fixture);
    }

    @ParameterizedTest
    @CsvSource({"qwen3-tiny, mul_0, down_proj", "gemma2-tiny, mul_0, down_proj", "phi3-tiny, mul_0, down_proj",
        "pythia-tiny, forward_1, dense_4h_to_h"})
    void anOperationInsideTheMlp_isReadAndReplacedThroughSource(String fixture, String operation, String down) {
        assertTrue(NativeHookPoints.callSitesEnabled(), "these tests run under the nnsight agent");
        LanguageModel lm = FamilyReferenceTest.model(fixture);
        String mlp = lm.paths().mlp(0);
        List<String> names = lm.get(mlp).source().operations().stream().map(Operation::name).toList();
        assertTrue(names.contains(operation), names.toString());

        List<Tensor> seen = lm.trace(SHORT, tr -> {
            Tensor before = lm.get(mlp).source().op(operation).output().clone();
            lm.get(mlp).source().op(operation).setOutput(torch.zeros_like(before));
            return List.of(before, lm.get(mlp + "." + down).input());
        });

        assertTrue(seen.get(0).abs().max().item_double() > 0, fixture + ": the operation's own output");
        assertEquals(0.0, seen.get(1).abs().max().item_double(), 0.0, fixture + ": the down projection got the replacement");
    }

    @Test
    void gptNeoX_residual_isParallel_orSequentialWhenTheConfigSaysSo(@TempDir Path folder) throws IOException {
        Path pythia = Shared.path("fixtures/pythia-tiny");
        try (Stream<Path> files = Files.list(pythia)) {
            for (Path file : files.toList()) {
                Files.copy(file, folder.resolve(file.getFileName()));
            }
        }
        Files.writeString(folder.resolve("config.json"), Files.readString(pythia.resolve("config.json"))
                .replace("\"use_parallel_residual\": true", "\"use_parallel_residual\": false"));

        for (LanguageModel lm : List.of(FamilyReferenceTest.model("pythia-tiny"), LanguageModel.load(folder.toString()))) {
            boolean parallel = lm == FamilyReferenceTest.model("pythia-tiny");
            List<Tensor> seen = lm.trace(SHORT, tr -> List.of(lm.get("gpt_neox.layers.1").input(),
                    lm.get("gpt_neox.layers.1.attention").output(), lm.get("gpt_neox.layers.1.post_attention_layernorm").input(),
                    lm.get("gpt_neox.layers.1.mlp").output(), lm.get("gpt_neox.layers.1").output()));
            Tensor hidden = seen.get(0);
            Tensor attended = seen.get(1);

            Tensor mlpReads = parallel ? hidden : hidden.add(attended);
            assertTrue(torch.allclose(mlpReads, seen.get(2), 0, 1e-6, false), "parallel " + parallel + ": the MLP's norm reads");
            assertTrue(torch.allclose(seen.get(3).add(attended).add(hidden), seen.get(4), 0, 1e-6, false), "the layer's sum");
        }
    }
}
