package io.nnsight.safetensors;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The element type of a tensor stored in a safetensors file, named exactly as the file's header names it
 * (the {@code "dtype"} field).
 *
 * <p>Each constant knows how many bytes one element takes in the file and which libtorch {@link
 * ScalarType} holds the same values, so that {@link SafeTensors#tensor(String)} can return a tensor of
 * the stored type without any conversion.
 *
 * <p>The safetensors format defines more types (unsigned 16/32/64-bit integers, 8-bit floats, complex
 * numbers); a file that uses one of them is rejected by {@link SafeTensors#open} with a message naming the
 * tensor and its type.
 */
public enum DType {
    /** 64-bit IEEE 754 floating point, {@code torch.float64}. */
    F64(8, ScalarType.Double),
    /** 32-bit IEEE 754 floating point, {@code torch.float32}. */
    F32(4, ScalarType.Float),
    /** 16-bit IEEE 754 half precision floating point, {@code torch.float16}. */
    F16(2, ScalarType.Half),
    /** 16-bit brain floating point (the upper half of a float32), {@code torch.bfloat16}. */
    BF16(2, ScalarType.BFloat16),
    /** 64-bit signed integer, {@code torch.int64}. */
    I64(8, ScalarType.Long),
    /** 32-bit signed integer, {@code torch.int32}. */
    I32(4, ScalarType.Int),
    /** 16-bit signed integer, {@code torch.int16}. */
    I16(2, ScalarType.Short),
    /** 8-bit signed integer, {@code torch.int8}. */
    I8(1, ScalarType.Char),
    /** 8-bit unsigned integer, {@code torch.uint8}. */
    U8(1, ScalarType.Byte),
    /** Boolean stored as one byte, 0 or 1, {@code torch.bool}. */
    BOOL(1, ScalarType.Bool);

    private final int byteSize;
    private final ScalarType scalarType;

    DType(int byteSize, ScalarType scalarType) {
        this.byteSize = byteSize;
        this.scalarType = scalarType;
    }

    /** {@return the number of bytes one element of this type occupies in the file, for example 2 for {@link #BF16}} */
    public int byteSize() {
        return byteSize;
    }

    /** {@return the libtorch element type that holds values of this type unchanged, for example {@code Half} for {@link #F16}} */
    public ScalarType scalarType() {
        return scalarType;
    }
}
