package io.nnsight.lm.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Inputs;
import io.nnsight.Tensors;
import io.nnsight.safetensors.DType;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The position ids a decoder derives from its inputs: from the padding mask when it pads, as arange when not. */
class DecoderInputsTest {
    private static final Placement CPU = Placement.of(DType.F32, "cpu");

    private static Inputs inputs(long[] mask, long rows, long columns) {
        Inputs in = Inputs.of().with("input_ids", torch.zeros(rows, columns).to(torch.ScalarType.Long));
        return mask == null ? in : in.with("attention_mask", torch.tensor(mask).reshape(rows, columns));
    }

    private static long[] positions(Inputs in) {
        return Tensors.longs(DecoderInputs.read(in, CPU).positions().contiguous());
    }

    @Test
    void read_aMaskOfOnes_givesThePositionsOfNoMask() {
        try (PointerScope scope = new PointerScope()) {
            long[] expected = {0, 1, 2, 3, 0, 1, 2, 3};
            assertArrayEquals(expected, positions(inputs(null, 2, 4)));
            assertArrayEquals(expected, positions(inputs(new long[] {1, 1, 1, 1, 1, 1, 1, 1}, 2, 4)));
            assertFalse(DecoderInputs.read(inputs(new long[] {1, 1, 1, 1, 1, 1, 1, 1}, 2, 4), CPU).masks().padded());
        }
    }

    @Test
    void read_aPaddedRow_countsItsRealTokens_paddingGettingOne() {
        try (PointerScope scope = new PointerScope()) {
            Inputs in = inputs(new long[] {1, 1, 1, 1, 0, 0, 1, 1}, 2, 4);

            assertArrayEquals(new long[] {0, 1, 2, 3, 1, 1, 0, 1}, positions(in));
            assertTrue(DecoderInputs.read(in, CPU).masks().padded());
        }
    }
}
