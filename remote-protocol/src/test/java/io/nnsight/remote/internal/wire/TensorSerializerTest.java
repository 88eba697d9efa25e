package io.nnsight.remote.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.esotericsoftware.kryo.io.Output;
import io.nnsight.Tensors;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Tensors in object graphs ({@link TensorSerializer}, through {@link ValueGraphs}): every element type keeps its
 * type, shape and values, views travel as their values, and malformed bytes are refused with an {@link
 * IllegalArgumentException} before anything large is allocated.
 */
class TensorSerializerTest {
    private static final ClassLoader LOADER = TensorSerializerTest.class.getClassLoader();

    private static Object roundTrip(Object value) {
        return read(ValueGraphs.write(value, LOADER, null));
    }

    private static Object read(byte[] graph) {
        return ValueGraphs.read(graph, LOADER, null, LambdaFactory.DESERIALIZE_LAMBDA);
    }

    private static Tensor arange(long count, ScalarType type) {
        return torch.arange(new Scalar(0L), new Scalar(count), new TensorOptions(ScalarType.Long)).to(type);
    }

    private static void assertSameTensor(Tensor expected, Tensor actual) {
        assertTrue(actual.defined());
        assertEquals(expected.scalar_type().intern(), actual.scalar_type().intern(), "type");
        assertArrayEquals(Tensors.shape(expected), Tensors.shape(actual), "shape");
        assertTrue(expected.equal(actual), "values");
    }

    enum WireType {
        FLOAT32(ScalarType.Float), FLOAT16(ScalarType.Half), BFLOAT16(ScalarType.BFloat16), FLOAT64(ScalarType.Double),
        INT64(ScalarType.Long), INT32(ScalarType.Int), INT16(ScalarType.Short), INT8(ScalarType.Char),
        UINT8(ScalarType.Byte), BOOL(ScalarType.Bool);

        final ScalarType type;

        WireType(ScalarType type) {
            this.type = type;
        }
    }

    @ParameterizedTest
    @EnumSource(WireType.class)
    void elementType_roundTrips_withItsShapeAndValues(WireType wire) {
        Tensor values = wire.type == ScalarType.Bool
                ? arange(12, ScalarType.Long).remainder(new Scalar(3L)).eq(new Scalar(0L))
                : arange(12, ScalarType.Long).sub(new Scalar(5L)).to(wire.type);
        Tensor tensor = values.reshape(3, 4);

        Tensor read = (Tensor) roundTrip(tensor);

        assertSameTensor(tensor, read);
        assertNotSame(tensor, read);
    }

    @Test
    void float32_keepsItsBitsExactly() {
        Tensor tensor = torch.randn(4, 5).mul(new Scalar(1e-30));

        assertSameTensor(tensor, (Tensor) roundTrip(tensor));
    }

    @Test
    void halfPrecision_keepsValuesThatFloat32WouldRound() {
        Tensor half = torch.randn(64).to(ScalarType.Half);
        Tensor bfloat = torch.randn(64).to(ScalarType.BFloat16);

        assertSameTensor(half, (Tensor) roundTrip(half));
        assertSameTensor(bfloat, (Tensor) roundTrip(bfloat));
    }

    @Test
    void zeroDimScalar_staysZeroDim() {
        Tensor scalar = torch.scalar_tensor(new Scalar(3.25));

        Tensor read = (Tensor) roundTrip(scalar);

        assertEquals(0, read.dim());
        assertEquals(3.25, read.item_double());
        assertSameTensor(scalar, read);
    }

    @Test
    void emptyTensor_keepsItsShape() {
        Tensor empty = torch.empty(0, 7);

        Tensor read = (Tensor) roundTrip(empty);

        assertEquals(0, read.numel());
        assertArrayEquals(new long[] {0, 7}, Tensors.shape(read));
        assertEquals(ScalarType.Float, read.scalar_type().intern());
    }

    @Test
    void undefinedTensor_staysUndefined() {
        Tensor read = (Tensor) roundTrip(new Tensor());

        assertFalse(read.defined());
    }

    @Test
    void transposedTensor_travelsAsItsValues() {
        Tensor base = arange(12, ScalarType.Float).reshape(3, 4);
        Tensor transposed = base.t();
        assertFalse(transposed.is_contiguous());

        Tensor read = (Tensor) roundTrip(transposed);

        assertArrayEquals(new long[] {4, 3}, Tensors.shape(read));
        assertTrue(read.is_contiguous());
        assertSameTensor(transposed, read);
    }

    @Test
    void slicedTensor_travelsAsTheSliceOnly() {
        Tensor base = arange(40, ScalarType.Float).reshape(4, 10);
        Tensor column = base.select(1, 3);
        Tensor window = base.narrow(1, 2, 5).narrow(0, 1, 2);

        Tensor readColumn = (Tensor) roundTrip(column);
        Tensor readWindow = (Tensor) roundTrip(window);

        assertSameTensor(column, readColumn);
        assertSameTensor(window, readWindow);
        assertEquals(4, readColumn.numel());
        assertEquals(12.0, readWindow.select(0, 0).select(0, 0).item_double());
    }

    @Test
    void tensorThatRequiresGrad_travelsAsItsValues_withoutGrad() {
        Tensor leaf = torch.randn(3, 3).requires_grad_(true);
        Tensor derived = leaf.mul(new Scalar(2.0));

        Tensor readLeaf = (Tensor) roundTrip(leaf);
        Tensor readDerived = (Tensor) roundTrip(derived);

        assertFalse(readLeaf.requires_grad());
        assertTrue(leaf.detach().equal(readLeaf));
        assertTrue(derived.detach().equal(readDerived));
    }

    @Test
    void sharedTensor_referencedTwice_staysOneObject() {
        Tensor shared = torch.randn(2, 2);
        Object[] graph = {shared, List.of(shared), Map.of("again", shared)};

        Object[] read = (Object[]) roundTrip(graph);

        Tensor first = (Tensor) read[0];
        assertSame(first, ((List<?>) read[1]).get(0));
        assertSame(first, ((Map<?, ?>) read[2]).get("again"));
        assertSameTensor(shared, first);
    }

    @Test
    void largeTensor_ofSeveralChunks_roundTrips() {
        Tensor large = torch.randn(3, 1 << 18); // 3 MiB: three chunks of the serializer's buffer

        assertSameTensor(large, (Tensor) roundTrip(large));
    }

    @Test
    void tensorWithoutDenseValues_isRefusedWhenWritten_sayingWhy() {
        Tensor meta = torch.empty(new long[] {2, 3}, new TensorOptions(new org.bytedeco.pytorch.Device("meta")), null);
        Tensor sparse = torch.eye(3).to_sparse();

        for (Tensor tensor : List.of(meta, sparse)) {
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                    () -> ValueGraphs.write(tensor, LOADER, null));
            assertTrue(error.getMessage().contains("not a dense tensor with values cannot travel"), error.getMessage());
            assertFalse(error.getMessage().contains("frame #"), "no C++ stack: " + error.getMessage());
        }
        assertSameTensor(torch.eye(3), (Tensor) roundTrip(sparse.to_dense()));
    }

    // ---- malformed bytes ----

    /** The bytes of a graph whose root is a tensor, up to (not including) the tensor's own data. */
    private static byte[] tensorPrefix() {
        byte[] undefined = ValueGraphs.write(new Tensor(), LOADER, null);
        return Arrays.copyOf(undefined, undefined.length - 1); // the last byte is "not defined"
    }

    /** A graph of one tensor as the serializer lays it out, with whatever fields the test gives. */
    private static byte[] crafted(String type, long[] shape, long size, int dataBytes) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Output output = new Output(bytes)) {
            output.writeBytes(tensorPrefix());
            output.writeBoolean(true);
            output.writeString(type);
            output.writeVarInt(shape.length, true);
            for (long dimension : shape) {
                output.writeVarLong(dimension, true);
            }
            output.writeVarLong(size, true);
            output.writeBytes(new byte[dataBytes]);
        }
        return bytes.toByteArray();
    }

    private static IllegalArgumentException assertRefused(byte[] graph, String... parts) {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> read(graph));
        for (String part : parts) {
            assertTrue(error.getMessage().contains(part), "missing \"" + part + "\" in: " + error.getMessage());
        }
        return error;
    }

    @Test
    void craftedBytes_ofAValidTensor_areRead() {
        Tensor read = (Tensor) read(crafted("Float", new long[] {2, 3}, 24, 24));

        assertArrayEquals(new long[] {2, 3}, Tensors.shape(read));
        assertEquals(0.0, read.abs().sum().item_double());
    }

    @Test
    void truncatedData_isRefused() {
        byte[] graph = ValueGraphs.write(torch.randn(8, 8), LOADER, null);

        assertRefused(Arrays.copyOf(graph, graph.length - 10));
        assertRefused(Arrays.copyOf(graph, tensorPrefix().length + 3));
        assertRefused(Arrays.copyOf(graph, 2));
    }

    @Test
    void absurdRank_isRefused() {
        assertRefused(crafted("Float", new long[100], 0, 0), "rank 100");
    }

    @Test
    void sizeLargerThanTheGraph_isRefused_withoutAllocatingIt() {
        long huge = 1L << 38; // 1 TiB of floats
        assertRefused(crafted("Float", new long[] {huge}, huge * 4, 16), "bytes");
    }

    @Test
    void shapeWhoseElementCountOverflows_isRefused() {
        long big = 1L << 40;
        assertRefused(crafted("Float", new long[] {big, big}, 16, 16), "shape");
    }

    @Test
    void negativeDimension_isRefused() {
        assertRefused(crafted("Float", new long[] {-1}, -4, 0), "shape");
    }

    @Test
    void sizeThatDoesNotMatchTheShape_isRefused() {
        assertRefused(crafted("Float", new long[] {2, 2}, 7, 7), "cannot hold 7 bytes");
    }

    @Test
    void unknownElementType_isRefused() {
        assertRefused(crafted("Complex128", new long[] {1}, 16, 16), "unknown type Complex128");
        assertRefused(crafted(null, new long[] {1}, 4, 4), "unknown type");
    }

    @ParameterizedTest
    @EnumSource(value = ScalarType.class, names = {"Undefined", "NumOptions", "QInt8", "QUInt4x2", "Bits8", "UInt3",
            "Int4"})
    void elementTypeThatDoesNotTravel_isRefused_withoutAskingLibtorch(ScalarType type) {
        // NumOptions used to reach new TensorOptions(type), which aborts the JVM: a server killed by one request
        assertRefused(crafted(type.name(), new long[] {2}, 2, 2), "unsupported type " + type.name());
    }

    @Test
    void elementTypeThatDoesNotTravel_isRefusedWhenWritten() {
        Tensor bits = torch.empty(new long[] {2}, new TensorOptions(ScalarType.Bits8), null);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.write(List.of(bits), LOADER, null));

        assertTrue(error.getMessage().contains("a tensor of type Bits8 cannot travel"), error.getMessage());
    }
}
