package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * A tensor as its element type, shape and bytes (CPU, contiguous, the platform's byte order: every platform
 * libtorch runs on is little-endian). An undefined tensor travels as such. Gradients do not travel.
 */
final class TensorSerializer extends Serializer<Tensor> {
    private static final int CHUNK = 1 << 20;

    TensorSerializer() {
        setImmutable(true);
    }

    @Override
    public void write(Kryo kryo, Output output, Tensor tensor) {
        if (!tensor.defined()) {
            output.writeBoolean(false);
            return;
        }
        output.writeBoolean(true);
        Tensor dense = tensor.detach().cpu().contiguous();
        // JavaCPP hands out enum values it makes from native ones: only intern() gives the constant, with its name
        output.writeString(dense.scalar_type().intern().name());
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
        int rank = input.readVarInt(true);
        if (rank > 64) {
            throw new KryoException("a tensor of rank " + rank);
        }
        long[] shape = new long[rank];
        long elements = 1;
        for (int i = 0; i < rank; i++) {
            shape[i] = input.readVarLong(true);
            elements = Math.multiplyExact(elements, shape[i]);
        }
        long size = input.readVarLong(true);
        Tensor tensor;
        try (TensorOptions options = new TensorOptions(dtype)) {
            long elementSize;
            try (Tensor empty = torch.empty(new long[] {0}, options, null)) {
                elementSize = empty.element_size();
            }
            if (Math.multiplyExact(elements, elementSize) != size) {
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
