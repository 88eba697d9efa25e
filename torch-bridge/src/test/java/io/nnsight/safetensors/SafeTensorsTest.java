package io.nnsight.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.ScopePerTest;
import io.nnsight.Tensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

@ExtendWith(ScopePerTest.class)
class SafeTensorsTest {
    /** -1.5, -1.0, ..., 1.0: the values of {@code arange(-1.5, 1.5, 0.5)}. */
    private static final float[] SIX_FLOATS = {-1.5f, -1f, -0.5f, 0f, 0.5f, 1f};
    /** -2.0, -1.75, ..., 1.75: the values of {@code arange(-2, 2, 0.25)}, exact in float16 and bfloat16. */
    private static final float[] SIXTEEN_FLOATS = new float[16];

    static {
        for (int i = 0; i < 16; i++) {
            SIXTEEN_FLOATS[i] = -2f + 0.25f * i;
        }
    }

    @TempDir
    Path folder;

    private Path sample() throws IOException {
        return new SafeTensorsWriter()
                .metadata("format", "pt")
                .f32("f32", new long[] {2, 3}, SIX_FLOATS)
                .f16("f16", new long[] {4, 4}, SIXTEEN_FLOATS)
                .bf16("bf16", new long[] {4, 4}, SIXTEEN_FLOATS)
                .i64("i64", new long[] {2, 3}, -3L << 40, -2L << 40, -1L << 40, 0, 1L << 40, 2L << 40)
                .write(folder.resolve("sample.safetensors"));
    }

    /** {@code arange(start, end, step)} in {@code type}, reshaped to {@code shape}. */
    private static Tensor arange(double start, double end, double step, ScalarType type, long... shape) {
        return torch.arange(new Scalar(start), new Scalar(end), new Scalar(step), new TensorOptions(type))
                .reshape(shape);
    }

    private static void assertTensor(Tensor expected, Tensor actual) {
        assertEquals(expected.scalar_type().value, actual.scalar_type().value, "dtype");
        assertArrayEquals(Tensors.shape(expected), Tensors.shape(actual), "shape");
        assertTrue(torch.equal(expected, actual), "values");
    }

    @Test
    void tensor_eachStoredDtypeReturnsExactlyTheStoredValues() throws IOException {
        try (SafeTensors file = SafeTensors.open(sample())) {
            assertTensor(arange(-1.5, 1.5, 0.5, ScalarType.Float, 2, 3), file.tensor("f32"));
            assertTensor(arange(-2, 2, 0.25, ScalarType.Half, 4, 4), file.tensor("f16"));
            assertTensor(arange(-2, 2, 0.25, ScalarType.BFloat16, 4, 4), file.tensor("bf16"));
            assertTensor(arange(-3, 3, 1, ScalarType.Long, 2, 3).mul(new Scalar(1L << 40)), file.tensor("i64"));
        }
    }

    @Test
    void tensor_staysValidAfterTheFileIsClosed() throws IOException {
        Tensor tensor;
        try (SafeTensors file = SafeTensors.open(sample())) {
            tensor = file.tensor("f32");
        }
        assertTensor(arange(-1.5, 1.5, 0.5, ScalarType.Float, 2, 3), tensor);
    }

    @Test
    void names_followHeaderOrderAndExcludeMetadata() throws IOException {
        Path file = new SafeTensorsWriter()
                .metadata("format", "pt")
                .f32("b", new long[] {1}, 1f)
                .f32("a", new long[] {1}, 2f)
                .f32("c", new long[] {1}, 3f)
                .write(folder.resolve("order.safetensors"));
        try (SafeTensors tensors = SafeTensors.open(file)) {
            assertEquals(List.of("b", "a", "c"), List.copyOf(tensors.names()));
        }
    }

    @Test
    void info_describesTypeShapeAndOffsets() throws IOException {
        try (SafeTensors file = SafeTensors.open(sample())) {
            TensorInfo f16 = file.info("f16");
            assertEquals(new TensorInfo("f16", DType.F16, new long[] {4, 4}, 24, 56), f16);
            assertEquals(16, f16.numel());
            assertEquals(32, f16.byteSize());
        }
    }

    @Test
    void metadata_returnsTheHeaderMetadata() throws IOException {
        try (SafeTensors file = SafeTensors.open(sample())) {
            assertEquals(Map.of("format", "pt"), file.metadata());
        }
    }

    @Test
    void metadata_isEmptyWithoutMetadataEntry() throws IOException {
        Path path = new SafeTensorsWriter().f32("x", new long[] {1}, 1f).write(folder.resolve("plain.safetensors"));
        try (SafeTensors file = SafeTensors.open(path)) {
            assertEquals(Map.of(), file.metadata());
        }
    }

    @Test
    void tensor_zeroDimensionalTensorIsAScalar() throws IOException {
        Path path = new SafeTensorsWriter().f32("scalar", new long[0], 3.5f).write(folder.resolve("scalar.safetensors"));
        try (SafeTensors file = SafeTensors.open(path)) {
            Tensor scalar = file.tensor("scalar");
            assertEquals(0, scalar.dim());
            assertEquals(3.5f, scalar.item_float());
            assertEquals(1, file.info("scalar").numel());
        }
    }

    @Test
    void tensor_emptyTensorHasNoElements() throws IOException {
        Path path = new SafeTensorsWriter()
                .f32("empty", new long[] {0})
                .f32("after", new long[] {1}, 7f)
                .write(folder.resolve("empty.safetensors"));
        try (SafeTensors file = SafeTensors.open(path)) {
            Tensor empty = file.tensor("empty");
            assertArrayEquals(new long[] {0}, Tensors.shape(empty));
            assertEquals(0, empty.numel());
            assertEquals(7f, file.tensor("after").item_float());
        }
    }

    @Test
    void copyInto_convertsHalfPrecisionIntoFloat32Destination() throws IOException {
        try (SafeTensors file = SafeTensors.open(sample())) {
            Tensor expected = arange(-2, 2, 0.25, ScalarType.Float, 4, 4);
            for (String name : List.of("f16", "bf16", "f32")) {
                long[] shape = file.info(name).shape();
                Tensor destination = torch.zeros(shape, new TensorOptions(ScalarType.Float));
                file.copyInto(name, destination);
                Tensor want = name.equals("f32") ? arange(-1.5, 1.5, 0.5, ScalarType.Float, 2, 3) : expected;
                assertTensor(want, destination);
            }
        }
    }

    @Test
    void copyInto_fillsDestinationThatRequiresGrad() throws IOException {
        try (SafeTensors file = SafeTensors.open(sample())) {
            Tensor parameter = torch.zeros(new long[] {2, 3}, new TensorOptions(ScalarType.Float));
            parameter.requires_grad_(true);
            file.copyInto("f32", parameter);
            assertTrue(parameter.requires_grad());
            assertTrue(torch.equal(arange(-1.5, 1.5, 0.5, ScalarType.Float, 2, 3), parameter.detach()));
        }
    }

    @Test
    void copyInto_shapeMismatchNamesTensorFileAndBothShapes() throws IOException {
        Path path = sample();
        try (SafeTensors file = SafeTensors.open(path)) {
            Tensor destination = torch.zeros(new long[] {3, 2}, new TensorOptions(ScalarType.Float));
            IllegalArgumentException error =
                    assertThrows(IllegalArgumentException.class, () -> file.copyInto("f32", destination));
            assertEquals("Cannot copy tensor \"f32\" from " + path
                    + ": it has shape [2, 3] but the destination has shape [3, 2]", error.getMessage());
            assertTrue(torch.equal(destination, torch.zeros(new long[] {3, 2}, new TensorOptions(ScalarType.Float))),
                    "the destination is untouched");
        }
    }

    @Test
    void tensor_unknownNameListsClosestNames() throws IOException {
        Path path = new SafeTensorsWriter()
                .f32("model.layers.0.weight", new long[] {1}, 1f)
                .f32("model.layers.1.weight", new long[] {1}, 1f)
                .f32("model.layers.0.bias", new long[] {1}, 1f)
                .f32("lm_head.weight", new long[] {1}, 1f)
                .f32("a", new long[] {1}, 1f)
                .f32("b", new long[] {1}, 1f)
                .write(folder.resolve("names.safetensors"));
        try (SafeTensors file = SafeTensors.open(path)) {
            IllegalArgumentException error =
                    assertThrows(IllegalArgumentException.class, () -> file.tensor("model.layers.0.weigth"));
            assertEquals("No tensor named \"model.layers.0.weigth\" in " + path + "; closest names: "
                    + "\"model.layers.0.weight\", \"model.layers.1.weight\", \"model.layers.0.bias\", "
                    + "\"lm_head.weight\", \"a\"", error.getMessage());
            assertThrows(IllegalArgumentException.class, () -> file.info("nope"));
        }
    }

    @Test
    void close_isIdempotentAndLaterUseFailsClearly() throws IOException {
        Path path = sample();
        SafeTensors file = SafeTensors.open(path);
        file.close();
        file.close();
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> file.tensor("f32"));
        assertEquals(path + " is closed", error.getMessage());
    }

    @Test
    void open_missingFileNamesTheFile() {
        Path missing = folder.resolve("missing.safetensors");
        NoSuchFileException error = assertThrows(NoSuchFileException.class, () -> SafeTensors.open(missing));
        assertEquals(missing + ": no such safetensors file", error.getMessage());
    }

    @Test
    void open_folderIsRejected() {
        IOException error = assertThrows(IOException.class, () -> SafeTensors.open(folder));
        assertTrue(error.getMessage().startsWith(folder + " is a folder"), error.getMessage());
    }

    static Stream<Arguments> malformedFiles() {
        String tensor = "\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}";
        return Stream.of(
                Arguments.of("too short", new byte[] {1, 2, 3, 4, 5}, "the file is 5 bytes long, shorter than the "
                        + "8-byte header length that starts a safetensors file"),
                Arguments.of("header longer than file", concat(littleEndianLong(1000), "{}"),
                        "the header length is 1000 bytes but only 2 bytes follow it"),
                Arguments.of("header length with the top bit set", littleEndianLong(-1),
                        "the header length is 18446744073709551615 bytes but only 0 bytes follow it"),
                Arguments.of("invalid JSON", header("{\"t\": {"), "the header is not valid JSON"),
                Arguments.of("lenient-only JSON", header("{t: 1}"), "the header is not valid JSON"),
                Arguments.of("trailing data", header("{} {}"), "the header has data after its JSON object"),
                Arguments.of("empty header", header("        "), "the header is empty"),
                Arguments.of("not an object", header("[1, 2]"), "the header is not a JSON object but [1,2]"),
                Arguments.of("invalid UTF-8", concat(littleEndianLong(2), new byte[] {(byte) 0xC3, (byte) 0x28}),
                        "the header is not valid UTF-8"),
                Arguments.of("unknown dtype", header("{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
                        "tensor \"t\" has dtype \"F8_E4M3\", which this reader does not support; supported: "
                                + "[F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL]"),
                Arguments.of("missing dtype", header("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                        "tensor \"t\" has no string \"dtype\""),
                Arguments.of("negative dimension", header("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
                        "tensor \"t\" has shape [-2]; a shape must be a list of non-negative integers"),
                Arguments.of("fractional dimension", header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8),
                        "tensor \"t\" has shape [1.5]"),
                Arguments.of("offsets reversed", header("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8),
                        "tensor \"t\" has data_offsets [8,0]; expected [begin, end] with 0 <= begin <= end"),
                Arguments.of("offsets past the data", header("{" + tensor + "}", 12),
                        "tensor \"t\" has data_offsets [0, 16], past the end of the data section, which holds 12 bytes"),
                Arguments.of("offsets not matching shape", header("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16),
                        "tensor \"t\" has data_offsets [0, 12] (12 bytes) but F32 [2, 2] needs 16 bytes"),
                Arguments.of("shape overflowing", header("{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8),
                        "tensor \"t\" has data_offsets [0, 8] but F64 [4294967296, 4294967296] needs more than 2^63 bytes"),
                Arguments.of("tensor entry not an object", header("{\"t\": 3}"),
                        "tensor \"t\" must be described by a JSON object but is 3"),
                Arguments.of("metadata not strings", header("{\"__metadata__\":{\"epoch\":3}," + tensor + "}", 16),
                        "\"__metadata__\" entry \"epoch\" must be a string but is 3"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedFiles")
    void open_malformedFileFailsWithMessageNamingFileAndProblem(String description, byte[] bytes, String problem)
            throws IOException {
        Path path = Files.write(folder.resolve("bad.safetensors"), bytes);
        SafeTensorsFormatException error =
                assertThrows(SafeTensorsFormatException.class, () -> SafeTensors.open(path));
        assertTrue(error.getMessage().startsWith(path + ": " + problem), error.getMessage());
        assertEquals(path, error.file());
    }

    @Test
    void leak_repeatedOpenReadCloseInsideScopesKeepsNativePointerCountFlat() throws IOException {
        Path path = sample();
        Runnable cycle = () -> {
            try (PointerScope cycleScope = new PointerScope(); SafeTensors file = SafeTensors.open(path)) {
                Tensor tensor = file.tensor("bf16");
                Tensor destination = torch.zeros(new long[] {4, 4}, new TensorOptions(ScalarType.Float));
                file.copyInto("f16", destination);
                assertTrue(torch.equal(tensor.to(ScalarType.Float), destination));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        };
        for (int i = 0; i < 20; i++) {
            cycle.run();
        }
        long before = Pointer.totalCount();
        try (PointerScope probe = new PointerScope(); SafeTensors file = SafeTensors.open(path)) {
            file.tensor("f32");
            assertTrue(Pointer.totalCount() > before, "the count sees the tensors a cycle makes");
        }
        for (int i = 0; i < 200; i++) {
            cycle.run();
        }
        long after = Pointer.totalCount();
        assertTrue(after <= before, "native objects grew from " + before + " to " + after);
    }

    private static byte[] header(String json) {
        return header(json, 0);
    }

    private static byte[] header(String json, int dataBytes) {
        byte[] utf8 = json.getBytes(StandardCharsets.UTF_8);
        return concat(concat(littleEndianLong(utf8.length), utf8), new byte[dataBytes]);
    }

    private static byte[] littleEndianLong(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    private static byte[] concat(byte[] first, String second) {
        return concat(first, second.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] concat(byte[] first, byte[] second) {
        byte[] joined = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, joined, first.length, second.length);
        return joined;
    }
}
