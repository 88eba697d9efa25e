package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Invoke;
import io.nnsight.NotReachedException;
import io.nnsight.OutOfOrderException;
import io.nnsight.Steps;
import io.nnsight.Tensors;
import io.nnsight.internal.engine.ThreadEngine;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Batched prompts, generation with per-step interventions, and sampling, on stories260K. */
class GenerationTest {
    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = LanguageModel.load(Shared.path("models/stories260K").toString());
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    private static Tensor lastLogits(Object prompt) {
        return lm.trace(prompt, tr -> lm.get("lm_head").output().select(1, -1));
    }

    @Test
    void promptsOfDifferentLengths_batched_giveEachItsOwnLogits() {
        String shortPrompt = "Lily and Tom";
        String longPrompt = "Once upon a time, there was a little girl named Lily.";

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke(shortPrompt, () -> lm.get("lm_head").output().select(1, -1)),
                tr.invoke(longPrompt, () -> lm.get("lm_head").output().select(1, -1))));

        assertTrue(torch.allclose(lastLogits(shortPrompt), batched.get(0).get(), 0, 1e-4, false));
        assertTrue(torch.allclose(lastLogits(longPrompt), batched.get(1).get(), 0, 1e-4, false));
    }

    @Test
    void listOfPrompts_inOneInvoke_isPaddedOnTheLeft() {
        Tensor both = lastLogits(List.of("Lily and Tom", "The cat sat on the mat."));

        assertEquals(2, both.size(0));
        assertTrue(torch.allclose(lastLogits("Lily and Tom"), both.narrow(0, 0, 1), 0, 1e-4, false));
        assertTrue(torch.allclose(lastLogits("The cat sat on the mat."), both.narrow(0, 1, 1), 0, 1e-4, false));
    }

    @Test
    void tokenIds_areAnInputToo() {
        long[] ids = lm.tokenizer().encode("Once upon a time");

        assertTrue(torch.allclose(lastLogits("Once upon a time"), lastLogits(ids), 0, 1e-6, false));
        assertTrue(torch.allclose(lastLogits(ids), lastLogits(torch.tensor(ids)), 0, 1e-6, false));
    }

    @Test
    void eachStep_isAnIteration_andTheStreamerGivesItsToken() {
        Generated plain = lm.generate("Once upon a time", Generation.maxNewTokens(5));

        List<Long> streamed = lm.generate("Once upon a time", Generation.maxNewTokens(5), tr -> {
            List<Long> tokens = new ArrayList<>();
            for (int step : tr.all()) {
                Tensor logits = lm.get("lm_head").output();
                long expected = logits.select(1, -1).argmax().item_long();
                long token = lm.get("generator.streamer").output().item_long();
                assertEquals(expected, token, "step " + step);
                tokens.add(token);
            }
            return tokens;
        });

        long[] ids = plain.ids(0);
        assertEquals(5, streamed.size());
        for (int i = 0; i < 5; i++) {
            assertEquals(ids[ids.length - 5 + i], streamed.get(i));
        }
    }

    @Test
    void moduleReadAfterAnUnboundedLoop_saysTheStepsAreOver_andWhatToDo() {
        OutOfOrderException error = assertThrows(OutOfOrderException.class,
                () -> lm.generate("Once upon a time", Generation.maxNewTokens(3), tr -> {
                    for (int step : tr.all()) {
                        lm.get("model.layers.3").output();
                    }
                    return lm.get("model.layers.3").output();
                }));

        assertTrue(error.getMessage().contains("it is at the end of its last step now. The model runner made its last "
                + "step, which ended the body's loop over its iterations (tr.all())"), error.getMessage());
        assertTrue(error.getMessage().contains("Read the module inside the loop"), error.getMessage());
        assertEquals(3, lm.generate("Once upon a time", Generation.maxNewTokens(3)).ids(0).length
                - lm.tokenizer().encode("Once upon a time").length, "the model is usable after the error");
    }

    @Test
    void stepZeroRunsThePrompt_laterStepsOneToken() {
        List<Long> lengths = lm.generate("Once upon a time", Generation.maxNewTokens(3), tr -> {
            List<Long> seen = new ArrayList<>();
            for (int step : tr.iter(Steps.range(0, 3))) {
                seen.add(lm.get("model.embed_tokens").output().size(1));
            }
            return seen;
        });

        assertEquals(List.of(5L, 1L, 1L), lengths);
    }

    @Test
    void generatorOutput_afterAnUnboundedLoop_isAllIds() {
        Tensor all = lm.generate("Once upon a time", Generation.maxNewTokens(4), tr -> {
            for (int step : tr.all()) {
                lm.get("lm_head").output();
            }
            return lm.generator().output();
        });

        assertEquals(5 + 4, all.size(1));
    }

    @Test
    void interventionInOneStep_appliesToThatStepOnly() {
        Generated plain = lm.generate("Once upon a time", Generation.maxNewTokens(4));

        Tensor steered = lm.generate("Once upon a time", Generation.maxNewTokens(4), tr -> {
            for (int step : tr.iter(Steps.at(2))) {
                lm.get("generator.streamer").setOutput(torch.full(new long[] {1, 1}, new Scalar(300L),
                        new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long)));
            }
            return lm.generator().output();
        });

        long[] before = plain.ids(0);
        long[] after = Tensors.longs(steered.select(0, 0));
        assertArrayEquals(java.util.Arrays.copyOf(before, 7), java.util.Arrays.copyOf(after, 7));
        assertEquals(300, after[7]);
    }

    @Test
    void zeroingAnMlp_inTheFirstStepOnly_changesTheFirstToken() {
        long first = lm.generate("Once upon a time", Generation.maxNewTokens(1), tr -> {
            lm.get("model.layers.4.mlp").output().zero_();
            return lm.get("generator.streamer").output().item_long();
        });

        assertEquals(lastLogitsAblated(), first);
    }

    private static long lastLogitsAblated() {
        return lm.trace("Once upon a time", tr -> {
            lm.get("model.layers.4.mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1).argmax().item_long();
        });
    }

    @Test
    void severalInvokes_generateTogether() {
        Generated alone = lm.generate("Lily and Tom", Generation.maxNewTokens(6));

        List<Invoke<Tensor>> together = lm.generate(Generation.maxNewTokens(6), tr -> List.of(
                tr.invoke("Once upon a time, there was a little girl named Lily.", () -> lm.generator().output()),
                tr.invoke("Lily and Tom", () -> lm.generator().output())));

        long[] aloneIds = alone.ids(0);
        long[] batchedIds = Tensors.longs(together.get(1).get().select(0, 0));
        long[] tail = java.util.Arrays.copyOfRange(batchedIds, batchedIds.length - aloneIds.length, batchedIds.length);
        assertArrayEquals(aloneIds, tail);
    }

    @Test
    void boundedLoopBeyondTheGeneration_failsSayingHowManyStepsRan() {
        NotReachedException error = assertThrows(NotReachedException.class,
                () -> lm.generate("Once upon a time", Generation.maxNewTokens(2), tr -> {
                    for (int step : tr.iter(Steps.range(0, 4))) {
                        lm.get("lm_head").output();
                    }
                    return null;
                }));

        assertTrue(error.getMessage().contains("ran 2 times"), error.getMessage());
    }

    @Test
    void sampling_withASeed_isReproducible_andDiffersFromGreedy() {
        Generation sampling = Generation.maxNewTokens(12).temperature(1.5).topK(50).topP(0.95).seed(7);

        Generated first = lm.generate("Once upon a time", sampling);
        Generated second = lm.generate("Once upon a time", sampling);
        Generated greedy = lm.generate("Once upon a time", Generation.maxNewTokens(12));

        assertArrayEquals(first.ids(0), second.ids(0));
        assertNotEquals(java.util.Arrays.toString(greedy.ids(0)),
                java.util.Arrays.toString(first.ids(0)));
    }

    @Test
    void seedTopKAndTopP_turnSamplingOn_atTemperatureOne_andGreedyTurnsItOff() {
        for (Generation options : List.of(Generation.maxNewTokens(4).seed(1), Generation.maxNewTokens(4).topK(5),
                Generation.maxNewTokens(4).topP(0.9))) {
            assertTrue(options.sampling(), options::toString);
            assertEquals(1.0, options.temperature());
            assertFalse(options.greedy().sampling());
            assertNull(options.greedy().seed());
        }
        assertEquals(0.5, Generation.maxNewTokens(4).temperature(0.5).seed(1).temperature(), "a temperature set stays");
        assertArrayEquals(lm.generate("Once upon a time", Generation.maxNewTokens(8).seed(5).temperature(1)).ids(0),
                lm.generate("Once upon a time", Generation.maxNewTokens(8).seed(5)).ids(0), "a seed alone samples at 1");
    }

    @Test
    void topKOfOne_isGreedy() {
        Generated topOne = lm.generate("Once upon a time", Generation.maxNewTokens(8).temperature(2).topK(1).seed(3));
        Generated greedy = lm.generate("Once upon a time", Generation.maxNewTokens(8));

        assertArrayEquals(greedy.ids(0), topOne.ids(0));
    }

    @Test
    void emptyPrompt_startsFromBos() {
        Generated generated = lm.generate("", Generation.maxNewTokens(3));

        assertEquals(1, generated.tokens().select(0, 0).select(0, 0).item_long());
        assertEquals(4, generated.tokens().size(1));
    }
}
