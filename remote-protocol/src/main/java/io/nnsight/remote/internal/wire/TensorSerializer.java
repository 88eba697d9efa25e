package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * A tensor as its element type, shape and bytes (CPU, contiguous, the platform's byte order: every platform
 * libtorch runs on is little-endian). An undefined tensor travels as such. Gradients do not travel.
 *
 * <p>Only the element types of {@link #TYPES} travel: a quantized tensor's scale and zero point would not,
 * and libtorch aborts the whole JVM when asked for a tensor of some of the other names a crafted graph
 * could hold ({@code NumOptions}).
 */
final class TensorSerializer extends Serializer<Tensor> {
    private static final int CHUNK = 1 << 20;
    private static final int MAX_RANK = 64;
    /** The element types a tensor may have on the wire: numbers and booleans whose bytes are the values. */
    private static final Set<torch.ScalarType> TYPES = EnumSet.of(torch.ScalarType.Bool, torch.ScalarType.Byte,
            torch.ScalarType.Char, torch.ScalarType.Short, torch.ScalarType.Int, torch.ScalarType.Long,
            torch.ScalarType.UInt16, torch.ScalarType.UInt32, torch.ScalarType.UInt64, torch.ScalarType.Half,
            torch.ScalarType.BFloat16, torch.ScalarType.Float, torch.ScalarType.Double, torch.ScalarType.ComplexHalf,
            torch.ScalarType.ComplexFloat, torch.ScalarType.ComplexDouble, torch.ScalarType.Float8_e5m2,
            torch.ScalarType.Float8_e4m3fn, torch.ScalarType.Float8_e5m2fnuz, torch.ScalarType.Float8_e4m3fnuz,
            torch.ScalarType.Float8_e8m0fnu, torch.ScalarType.Float4_e2m1fn_x2);

    TensorSerializer() {
        setImmutable(true);
    }

    @Override
    public void write(Kryo kryo, Output output, Tensor tensor) {
        if (!tensor.defined()) {
            output.writeBoolean(false);
            return;
        }
        // JavaCPP hands out enum values it makes from native ones: only intern() gives the constant, with its name
        torch.ScalarType type = tensor.scalar_type().intern();
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("a tensor of type " + type.name() + " cannot travel: only tensors of "
                    + "plain number and boolean types do (convert it with .to(...) first)");
        }
        Tensor dense;
        try {
            dense = tensor.detach().cpu().contiguous();
        } catch (RuntimeException e) {
            // a meta tensor has no values, a sparse one no contiguous layout: libtorch says so at length
            String reason = String.valueOf(e.getMessage()).strip().lines().findFirst().orElse("");
            throw new IllegalArgumentException("a tensor that is not a dense tensor with values cannot travel ("
                    + reason + "); make it one first (.to_dense(), or compute its values)", e);
        }
        output.writeBoolean(true);
        output.writeString(type.name());
        output.writeVarInt((int) dense.dim(), true);
        for (int i = 0; i < dense.dim(); i++) {
            output.writeVarLong(dense.size(i), true);
        }
        long size = dense.nbytes();
        output.writeVarLong(size, true);
        BytePointer data = new BytePointer(dense.data_ptr()).capacity(size);
        byte[] chunk = new byte[(int) Math.min(size, CHUNK)];
        for (long done = 0; done < size; done += chunk.length) {
            int length = (int) Math.min(chunk.length, size - done);
            data.position(done).get(chunk, 0, length);
            output.writeBytes(chunk, 0, length);
        }
    }

    @Override
    public Tensor read(Kryo kryo, Input input, Class<? extends Tensor> type) {
        if (!input.readBoolean()) {
            return new Tensor();
        }
        torch.ScalarType dtype;
        String name = input.readString();
        try {
            dtype = torch.ScalarType.valueOf(name);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new KryoException("a tensor of unknown type " + name);
        }
        if (!TYPES.contains(dtype)) {
            // checked before libtorch sees the type: some names (NumOptions) abort the JVM
            throw new KryoException("a tensor of unsupported type " + name);
        }
        int rank = input.readVarInt(true);
        if (rank < 0 || rank > MAX_RANK) {
            throw new KryoException("a tensor of rank " + rank + "; at most " + MAX_RANK);
        }
        long[] shape = new long[rank];
        for (int i = 0; i < rank; i++) {
            shape[i] = input.readVarLong(true);
        }
        long elements = 1;
        for (long dimension : shape) {
            if (dimension < 0) {
                throw new KryoException("a tensor of shape " + Arrays.toString(shape) + ", which has a negative size");
            }
            try {
                elements = Math.multiplyExact(elements, dimension);
            } catch (ArithmeticException e) {
                throw new KryoException("a tensor of shape " + Arrays.toString(shape) + ", which has too many elements");
            }
        }
        long size = input.readVarLong(true);
        Tensor tensor;
        try (TensorOptions options = new TensorOptions(dtype)) {
            long elementSize;
            try (Tensor empty = torch.empty(new long[] {0}, options, null)) {
                elementSize = empty.element_size();
            }
            if (elements > Long.MAX_VALUE / elementSize || elements * elementSize != size) {
                throw new KryoException("a tensor of shape " + Arrays.toString(shape) + " and type " + name
                        + " cannot hold " + size + " bytes");
            }
            if (size > input.limit() - input.position() && input.getInputStream() == null) {
                throw new KryoException("a tensor of " + size + " bytes in a graph that has fewer left");
            }
            tensor = torch.empty(shape, options, null);
        }
        BytePointer data = new BytePointer(tensor.data_ptr()).capacity(size);
        byte[] chunk = new byte[(int) Math.min(size, CHUNK)];
        for (long done = 0; done < size; done += chunk.length) {
            int length = (int) Math.min(chunk.length, size - done);
            input.readBytes(chunk, 0, length);
            data.position(done).put(chunk, 0, length);
        }
        return tensor;
    }
}
