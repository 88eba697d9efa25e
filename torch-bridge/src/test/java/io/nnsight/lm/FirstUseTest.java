package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Inputs;
import io.nnsight.TraceException;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What a new user of a language model meets first: the inputs it refuses and the values it prints. */
class FirstUseTest {
    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    @Test
    void floatTokenIds_areRefused_namingTheTensor() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(torch.ones(1, 3), tr -> lm.get("lm_head").output()));
        IllegalArgumentException named = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(Inputs.of().with("input_ids", torch.ones(1, 3)), tr -> lm.get("lm_head").output()));

        assertTrue(error.getMessage().startsWith("token ids must be an integer tensor (Long or Int), not Tensor[1, 3] Float"),
                error.getMessage());
        assertEquals(error.getMessage(), named.getMessage());
    }

    @Test
    void floatTokenIds_setAsTheModelsInput_areRefusedAtTheSetter() {
        TraceException error = assertThrows(TraceException.class, () -> lm.trace("Lily", tr -> {
            Inputs inputs = lm.get("model.embed_tokens").inputs();
            lm.get("model.embed_tokens").setInput(inputs.tensor(0).to(torch.ScalarType.Float));
            return lm.get("lm_head").output();
        }));

        assertTrue(error.getMessage().contains("holds Float values, but the inputs of model.embed_tokens (embed) argument 0 holds Long"),
                error.getMessage());
    }

    @Test
    void decode_takesTheTokensAGenerationBodyCollects() {
        List<Long> tokens = lm.generate("Once upon a time", Generation.maxNewTokens(4), tr -> {
            List<Long> picked = new ArrayList<>();
            for (int step : tr.all()) {
                picked.add(lm.get("generator.streamer").output().item_long());
            }
            return picked;
        });

        assertEquals(List.of(432L, 383L, 286L, 261L), tokens);
        assertEquals(", there was a", lm.tokenizer().decode(tokens));
    }

    @Test
    void piece_isTheVocabularyEntry_showingSpacesAndBytes() {
        assertEquals("▁Lily", lm.tokenizer().piece(317));
        assertEquals("<0x0A>", lm.tokenizer().piece(13));
        assertEquals("\n", lm.tokenizer().token(13));
        assertEquals("<s>", lm.tokenizer().piece(1));
        assertThrows(IllegalArgumentException.class, () -> lm.tokenizer().piece(512));
    }

    @Test
    void generated_printsItsTextsAndIds() {
        Generated generated = lm.generate("Once upon a time", Generation.maxNewTokens(2));

        assertEquals("Generated[texts=[, there], ids=[[1, 403, 407, 261, 378, 432, 383]]]", generated.toString());
    }

    @Test
    void generatedFreedWithItsScope_stillPrints() {
        Generated generated;
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
            generated = lm.generate("Once upon a time", Generation.maxNewTokens(1));
        }

        assertEquals("Generated[texts=[,], ids=[Tensor(freed)]]", generated.toString());
    }

    @Test
    void tensorOfAnotherShape_setAsAnOutput_namesTheModuleAndBothShapes() {
        TraceException error = assertThrows(TraceException.class, () -> lm.trace("Lily and Tom", tr -> {
            lm.get("model.layers.0.mlp").setOutput(torch.zeros(1, 64));
            return null;
        }));

        assertEquals("the replacement for the output of model.layers.0.mlp (layers.0.mlp) has shape [1, 64], but the "
                + "output of model.layers.0.mlp (layers.0.mlp) has shape [1, 5, 64]", error.getMessage());
    }
}
