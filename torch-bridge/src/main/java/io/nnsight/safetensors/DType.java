package io.nnsight.safetensors;

import java.util.Locale;
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
    F64(8, ScalarType.Double, "float64"),
    /** 32-bit IEEE 754 floating point, {@code torch.float32}. */
    F32(4, ScalarType.Float, "float32"),
    /** 16-bit IEEE 754 half precision floating point, {@code torch.float16}. */
    F16(2, ScalarType.Half, "float16"),
    /** 16-bit brain floating point (the upper half of a float32), {@code torch.bfloat16}. */
    BF16(2, ScalarType.BFloat16, "bfloat16"),
    /** 64-bit signed integer, {@code torch.int64}. */
    I64(8, ScalarType.Long, "int64"),
    /** 32-bit signed integer, {@code torch.int32}. */
    I32(4, ScalarType.Int, "int32"),
    /** 16-bit signed integer, {@code torch.int16}. */
    I16(2, ScalarType.Short, "int16"),
    /** 8-bit signed integer, {@code torch.int8}. */
    I8(1, ScalarType.Char, "int8"),
    /** 8-bit unsigned integer, {@code torch.uint8}. */
    U8(1, ScalarType.Byte, "uint8"),
    /** Boolean stored as one byte, 0 or 1, {@code torch.bool}. */
    BOOL(1, ScalarType.Bool, "bool");

    private final int byteSize;
    private final ScalarType scalarType;
    private final String torchName;

    DType(int byteSize, ScalarType scalarType, String torchName) {
        this.byteSize = byteSize;
        this.scalarType = scalarType;
        this.torchName = torchName;
    }

    /**
     * The type of a name as safetensors ({@code "BF16"}) or PyTorch ({@code "bfloat16"}, {@code "torch.bfloat16"},
     * {@code "float"}, {@code "half"}) writes it, in any case: what a {@code config.json}'s {@code "dtype"} (or
     * {@code "torch_dtype"}) field holds.
     *
     * @throws IllegalArgumentException for any other name; the message lists the names of the floating-point types
     */
    public static DType parse(String name) {
        String key = name.trim().toLowerCase(Locale.ROOT);
        key = key.startsWith("torch.") ? key.substring("torch.".length()) : key;
        switch (key) {
            case "float":
                return F32;
            case "half":
                return F16;
            case "double":
                return F64;
            default:
                for (DType type : values()) {
                    if (type.name().equalsIgnoreCase(key) || type.torchName.equals(key)) {
                        return type;
                    }
                }
                throw new IllegalArgumentException("unknown dtype '" + name + "': the floating-point types are F32 "
                        + "(float32), F16 (float16), BF16 (bfloat16) and F64 (float64)");
        }
    }

    /**
     * The type of libtorch's {@code type}.
     *
     * @throws IllegalArgumentException for a libtorch type safetensors cannot store (complex, 8-bit floats...)
     */
    public static DType of(ScalarType type) {
        for (DType candidate : values()) {
            if (candidate.scalarType.value == type.value) {
                return candidate;
            }
        }
        throw new IllegalArgumentException("safetensors stores no tensors of libtorch's type " + type);
    }

    /** {@return PyTorch's name of this type, as in {@code torch.bfloat16}: {@code "bfloat16"}} */
    public String torchName() {
        return torchName;
    }

    /** {@return whether this is one of the floating-point types, {@link #F64}, {@link #F32}, {@link #F16}, {@link #BF16}} */
    public boolean isFloatingPoint() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
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
