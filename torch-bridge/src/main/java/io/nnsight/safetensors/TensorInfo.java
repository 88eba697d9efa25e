package io.nnsight.safetensors;

import java.util.Arrays;
import java.util.Objects;

/**
 * What the header of a safetensors file says about one tensor: its element type, its shape and where its
 * bytes lie. Reading an info reads no tensor data, so it is the cheap way to inspect a file:
 *
 * <pre>{@code
 * try (SafeTensors file = SafeTensors.open(Path.of("model.safetensors"))) {
 *     for (String name : file.names()) {
 *         TensorInfo info = file.info(name);
 *         System.out.println(name + " " + info.dtype() + " " + Arrays.toString(info.shape()));
 *     }
 * }
 * }</pre>
 *
 * <p>The shape array is copied on the way in and on the way out, so an info never changes; {@link
 * #equals}, {@link #hashCode} and {@link #toString} compare and print the shape by content.
 *
 * @param name the tensor's name, the key of its header entry
 * @param dtype the element type of the stored values
 * @param shape the size of each dimension, outermost first; empty for a 0-dimensional (scalar) tensor
 * @param dataBegin the offset of the tensor's first byte, counted from the start of the data section that
 *     follows the header (the first number of the header's {@code "data_offsets"})
 * @param dataEnd the offset just past the tensor's last byte, counted the same way (the second number of
 *     {@code "data_offsets"})
 */
public record TensorInfo(String name, DType dtype, long[] shape, long dataBegin, long dataEnd) {

    /** Creates an info, copying {@code shape}. */
    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = Objects.requireNonNull(shape, "shape").clone();
    }

    /** {@return a copy of the shape: the size of each dimension, outermost first; empty for a scalar} */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** {@return the number of elements, the product of the shape: 1 for a scalar, 0 if any dimension is 0} */
    public long numel() {
        long numel = 1;
        for (long size : shape) {
            numel = Math.multiplyExact(numel, size);
        }
        return numel;
    }

    /** {@return the number of bytes the tensor occupies in the file, {@code dataEnd - dataBegin}} */
    public long byteSize() {
        return dataEnd - dataBegin;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof TensorInfo that
                && name.equals(that.name)
                && dtype == that.dtype
                && Arrays.equals(shape, that.shape)
                && dataBegin == that.dataBegin
                && dataEnd == that.dataEnd;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), dataBegin, dataEnd);
    }

    @Override
    public String toString() {
        return "TensorInfo[name=" + name + ", dtype=" + dtype + ", shape=" + Arrays.toString(shape)
                + ", dataBegin=" + dataBegin + ", dataEnd=" + dataEnd + "]";
    }
}
