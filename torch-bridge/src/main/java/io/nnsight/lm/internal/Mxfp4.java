package io.nnsight.lm.internal;

import io.nnsight.Tensors;
import java.util.Arrays;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Dequantizes the MXFP4 weights of a mixture of experts (GPT-OSS's checkpoints) as transformers' {@code
 * convert_moe_packed_tensors} does. A stacked parameter {@code [experts, columns, rows]} is stored as {@code
 * _blocks} {@code [experts, rows, groups, 16]} bytes, each byte two 4-bit values (the low nibble first) that index
 * {@code [0, 0.5, 1, 1.5, 2, 3, 4, 6]} and their negatives, and {@code _scales} {@code [experts, rows, groups]} bytes,
 * each the exponent plus 127 of the power of two that multiplies its group of 32 values; a row's groups, in order,
 * are its {@code columns = groups * 32} values, and the parameter holds each expert's matrix transposed. The values
 * are exact in any floating type with 8 exponent bits (bfloat16, float32). Computed on the host, where the
 * checkpoint's pages are, one expert at a time, so that the temporaries stay the size of one expert's matrix, and
 * copied into the parameter on its device.
 */
final class Mxfp4 {
    /** The 16 values of a 4-bit code: the sign in the high bit. */
    private static final float[] VALUES = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};
    private static final Scalar LOW_NIBBLE = new Scalar(0x0F);
    private static final Scalar FOUR = new Scalar(4);
    private static final Scalar BIAS = new Scalar(127);

    private Mxfp4() {}

    /**
     * Fills {@code parameter} {@code [experts, groups * 32, rows]} with the values {@code blocks} and {@code scales}
     * (both {@code uint8}) hold, in the parameter's type and on its device.
     *
     * @param name the parameter's name, for the message
     * @throws IllegalArgumentException when the shapes do not fit one another or the parameter
     */
    static void dequantizeInto(Tensor parameter, Tensor blocks, Tensor scales, String name) {
        long[] packed = Tensors.shape(blocks);
        long[] exponents = Tensors.shape(scales);
        long[] target = Tensors.shape(parameter);
        if (packed.length != 4 || packed[3] != 16 || !Arrays.equals(Arrays.copyOf(packed, 3), exponents)
                || target.length != 3 || target[0] != packed[0] || target[1] != packed[2] * 32 || target[2] != packed[1]) {
            throw new IllegalArgumentException("the MXFP4 weights of " + name + " do not fit it: blocks "
                    + Arrays.toString(packed) + " and scales " + Arrays.toString(exponents) + " (expected [experts, rows, "
                    + "groups, 16] and [experts, rows, groups]) for a parameter " + Arrays.toString(target)
                    + " ([experts, groups x 32, rows]); does config.json describe this checkpoint?");
        }
        Tensor table = torch.empty(VALUES.length).to(torch.ScalarType.Float);
        table.data_ptr_float().capacity(VALUES.length).put(VALUES);
        table = table.to(parameter.scalar_type());
        for (long expert = 0; expert < packed[0]; expert++) {
            Tensor codes = blocks.select(0, expert).to(torch.ScalarType.Long);         // [rows, groups, 16]
            Tensor low = table.index_select(0, codes.bitwise_and(LOW_NIBBLE).flatten());
            Tensor high = table.index_select(0, codes.__rshift__(FOUR).flatten());
            Tensor values = torch.stack(new TensorVector(low, high), 1)                // [rows * groups * 16, 2]
                    .reshape(packed[1], packed[2], 32);                                  // low, high, low, high...
            Tensor powers = scales.select(0, expert).to(torch.ScalarType.Int).sub(BIAS).unsqueeze(-1);
            Tensor matrix = values.ldexp(powers).reshape(packed[1], packed[2] * 32);     // [rows, columns]
            parameter.select(0, expert).copy_(matrix.t());
        }
    }
}
