package io.nnsight.lm.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Batchable;
import io.nnsight.Inputs;
import io.nnsight.ScopePerTest;
import io.nnsight.Tensors;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.lm.decoder.DecoderForCausalLM;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * stories260K's inputs: token ids given as Java arrays (checked on the host) and as tensors (checked with tensor
 * operations) are prepared into the same tensors and refused with the same errors.
 */
@ExtendWith(ScopePerTest.class)
class PromptInputsTest {
    private static LanguageModel lm;
    private static PromptInputs inputs;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        DecoderForCausalLM model = (DecoderForCausalLM) lm.module();
        inputs = new PromptInputs(lm.tokenizer(), model.contextLength(), model.placement());
    }

    private static long[] longs(Batchable.Prepared prepared, String name) {
        Tensor tensor = prepared.inputs().tensor(name);
        assertEquals(torch.ScalarType.Long.value, tensor.scalar_type().value, name + " is a Long tensor");
        return Tensors.longs(tensor.flatten());
    }

    private static Inputs asTensors(long[][] ids, long[][] mask) {
        long[] flatIds = java.util.Arrays.stream(ids).flatMapToLong(java.util.Arrays::stream).toArray();
        long[] flatMask = java.util.Arrays.stream(mask).flatMapToLong(java.util.Arrays::stream).toArray();
        return Inputs.of().with("input_ids", torch.tensor(flatIds).reshape(ids.length, ids[0].length))
                .with("attention_mask", torch.tensor(flatMask).reshape(ids.length, ids[0].length));
    }

    @Test
    void prepare_rowsOfDifferentLengths_areLeftPaddedWithTheirMask_asTheirTensorsAre() {
        long pad = lm.tokenizer().pad();
        Batchable.Prepared arrays = inputs.prepare(new long[][] {{1, 5, 6}, {1, 7}});
        Batchable.Prepared tensors = inputs.prepare(asTensors(new long[][] {{1, 5, 6}, {pad, 1, 7}},
                new long[][] {{1, 1, 1}, {0, 1, 1}}));

        assertEquals(2, arrays.batchSize());
        assertArrayEquals(new long[] {1, 5, 6, pad, 1, 7}, longs(arrays, "input_ids"));
        assertArrayEquals(new long[] {1, 1, 1, 0, 1, 1}, longs(arrays, "attention_mask"));
        assertArrayEquals(longs(tensors, "input_ids"), longs(arrays, "input_ids"));
        assertArrayEquals(longs(tensors, "attention_mask"), longs(arrays, "attention_mask"));
        assertEquals(List.of(2L, 3L), List.of(arrays.inputs().tensor("input_ids").size(0),
                arrays.inputs().tensor("input_ids").size(1)));
    }

    @Test
    void prepare_aPrompt_givesTheTokenizersIds() {
        String prompt = Shared.STORIES_PROMPT;
        Batchable.Prepared prepared = inputs.prepare(prompt);

        assertArrayEquals(lm.tokenizer().encode(prompt), longs(prepared, "input_ids"));
        assertTrue(java.util.Arrays.stream(longs(prepared, "attention_mask")).allMatch(m -> m == 1));
    }

    @Test
    void prepare_idsOutsideTheVocabulary_areRefusedAlike_asArraysAndAsTensors() {
        for (long[] ids : new long[][] {{1, 9999}, {-3, 1}, {1, 512}}) {
            IllegalArgumentException array = assertThrows(IllegalArgumentException.class, () -> inputs.prepare(ids));
            IllegalArgumentException tensor = assertThrows(IllegalArgumentException.class,
                    () -> inputs.prepare(torch.tensor(ids)));

            assertEquals(tensor.getMessage(), array.getMessage());
            long min = java.util.Arrays.stream(ids).min().getAsLong();
            long max = java.util.Arrays.stream(ids).max().getAsLong();
            assertEquals("token ids must be in [0, 512), got values from " + min + " to " + max, array.getMessage());
        }
    }

    @Test
    void prepare_idsLongerThanTheContext_areRefusedAlike_beforeTheirValuesAreChecked() {
        long[] ids = new long[513];
        ids[0] = 9999; // the length is told first
        IllegalArgumentException array = assertThrows(IllegalArgumentException.class, () -> inputs.prepare(ids));
        IllegalArgumentException tensor = assertThrows(IllegalArgumentException.class,
                () -> inputs.prepare(torch.tensor(ids)));

        assertEquals(tensor.getMessage(), array.getMessage());
        assertTrue(array.getMessage().contains("a prompt of 513 tokens") && array.getMessage().contains("512"),
                array.getMessage());
    }

    @Test
    void cohortKey_aPaddedRow_isToldApart_whetherItsMaskIsReadInPlaceOrWithTensors() {
        Batchable.Prepared equal = inputs.prepare(new long[][] {{1, 5, 6}, {1, 7, 8}});
        Batchable.Prepared padded = inputs.prepare(new long[][] {{1, 5, 6}, {1, 7}});
        Inputs fullMask = asTensors(new long[][] {{1, 5, 6}}, new long[][] {{1, 1, 1}});
        Inputs paddedMask = asTensors(new long[][] {{0, 5, 6}}, new long[][] {{0, 1, 1}});
        // an Int mask is prepared into a Long one, read in place; a mask that is not contiguous takes the tensor path
        Batchable.Prepared intMask = inputs.prepare(fullMask.with("attention_mask",
                fullMask.tensor("attention_mask").to(torch.ScalarType.Int)));
        Batchable.Prepared stridedMask = inputs.prepare(paddedMask.with("attention_mask",
                torch.tensor(new long[] {0, 1, 1}).reshape(3, 1).t()));

        assertEquals(List.of(3L, false), inputs.cohortKey(List.of(equal)));
        assertEquals(List.of(3L, true), inputs.cohortKey(List.of(padded)));
        assertEquals(List.of(3L, false), inputs.cohortKey(List.of(inputs.prepare(fullMask))));
        assertEquals(List.of(3L, true), inputs.cohortKey(List.of(inputs.prepare(paddedMask))));
        assertEquals(List.of(3L, false), inputs.cohortKey(List.of(intMask)));
        assertEquals(List.of(3L, true), inputs.cohortKey(List.of(stridedMask)));
    }

    @Test
    void prepare_noRows_addsNoBatchRows() {
        assertEquals(0, inputs.prepare(new long[0][]).batchSize());
    }
}
