package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Invoke;
import io.nnsight.Tensors;
import io.nnsight.internal.engine.ThreadEngine;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Edits of a language model: its traces and its generations, at every step, run them first. */
class LanguageModelEditTest {
    private static final String PROMPT = "Once upon a time";
    private static final long FORCED = 300;

    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = LanguageModel.load(Shared.path("models/stories260K").toString());
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    @Test
    void edit_ofALanguageModel_isALanguageModel_withTheSameTokenizer() {
        LanguageModel edited = lm.edit(tr -> lm.get("model.layers.4.mlp").output().zero_());

        assertTrue(lm.edits().isEmpty());
        assertEquals(lm.key(), edited.key());
        assertEquals(lm.tokenizer(), edited.tokenizer());
    }

    @Test
    void editOverAllSteps_appliesAtEveryStepOfAGeneration() {
        LanguageModel forced = lm.edit(tr -> {
            for (int step : tr.all()) {
                lm.get("lm_head").output().select(2, FORCED).add_(new Scalar(1000.0));
            }
            return null;
        });

        long[] plain = lm.generate(PROMPT, Generation.maxNewTokens(4)).ids(0);
        long[] steered = forced.generate(PROMPT, Generation.maxNewTokens(4)).ids(0);

        assertArrayEquals(Arrays.copyOf(plain, 5), Arrays.copyOf(steered, 5));
        for (int i = 5; i < 9; i++) {
            assertEquals(FORCED, steered[i], "step " + (i - 5));
            assertTrue(plain[i] != FORCED, "step " + (i - 5));
        }
    }

    @Test
    void editOfALayer_givesTheGenerationOfTheSameInterventionWrittenInTheBody() {
        LanguageModel ablated = lm.edit(tr -> {
            for (int step : tr.all()) {
                lm.get("model.layers.4.mlp").output().zero_();
            }
            return null;
        });

        Tensor byEdit = ablated.generate(PROMPT, Generation.maxNewTokens(6), tr -> lm.generator().output());
        Tensor byBody = lm.generate(PROMPT, Generation.maxNewTokens(6), tr -> {
            for (int step : tr.all()) {
                lm.get("model.layers.4.mlp").output().zero_();
            }
            return lm.generator().output();
        });
        Tensor plain = lm.generate(PROMPT, Generation.maxNewTokens(6)).tokens();

        assertArrayEquals(Tensors.longs(byBody.select(0, 0)), Tensors.longs(byEdit.select(0, 0)));
        assertFalse(Arrays.equals(Tensors.longs(plain.select(0, 0)), Tensors.longs(byEdit.select(0, 0))));
    }

    @Test
    void editedGeneration_withInvokes_appliesTheEditToEveryPrompt() {
        LanguageModel forced = lm.edit(tr -> {
            for (int step : tr.all()) {
                lm.get("lm_head").output().select(2, FORCED).add_(new Scalar(1000.0));
            }
            return null;
        });

        List<Invoke<Tensor>> ids = forced.generate(Generation.maxNewTokens(2), tr -> List.of(
                tr.invoke(PROMPT, () -> lm.generator().output()),
                tr.invoke("Lily and Tom", () -> lm.generator().output())));

        for (Invoke<Tensor> invoke : ids) {
            long[] tokens = Tensors.longs(invoke.get().select(0, 0));
            assertEquals(FORCED, tokens[tokens.length - 2]);
            assertEquals(FORCED, tokens[tokens.length - 1]);
        }
    }
}
