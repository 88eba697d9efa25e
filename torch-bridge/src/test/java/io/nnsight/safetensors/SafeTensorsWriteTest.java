package io.nnsight.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.ScopePerTest;
import io.nnsight.Tensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@link SafeTensors#write}: files that the reader (and Hugging Face's safetensors) reads back as written. */
@ExtendWith(ScopePerTest.class)
class SafeTensorsWriteTest {
    @TempDir
    Path folder;

    /** A tensor of every kind a trace saves: each stored type, a view, no elements, no dimensions. */
    private static Map<String, Tensor> tensors() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("bf16", torch.arange(new Scalar(12)).reshape(3, 4).to(torch.ScalarType.BFloat16));
        tensors.put("f32", torch.randn(3, 5));
        tensors.put("f16", torch.randn(2, 3).to(torch.ScalarType.Half));
        tensors.put("i64", torch.arange(new Scalar(7)).mul(new Scalar(1L << 40)));
        tensors.put("bool", torch.randn(5).gt(new Scalar(0)));
        tensors.put("view", torch.randn(4, 6).transpose(0, 1).narrow(0, 1, 3));
        tensors.put("empty", torch.zeros(0, 4));
        tensors.put("scalar", torch.randn(new long[0]));
        return tensors;
    }

    @Test
    void write_thenOpen_givesEachTensorItsTypeShapeAndValues_andTheMetadata() throws IOException {
        Map<String, Tensor> written = tensors();
        Path file = folder.resolve("saved.safetensors");

        SafeTensors.write(file, written, Map.of("format", "pt", "prompt", "Once upon a time"));

        try (SafeTensors read = SafeTensors.open(file)) {
            assertEquals(written.keySet(), read.names());
            assertEquals(Map.of("format", "pt", "prompt", "Once upon a time"), read.metadata());
            for (Map.Entry<String, Tensor> entry : written.entrySet()) {
                Tensor back = read.tensor(entry.getKey());
                assertEquals(DType.of(entry.getValue().scalar_type()), read.info(entry.getKey()).dtype(), entry.getKey());
                assertArrayEquals(Tensors.shape(entry.getValue()), Tensors.shape(back), entry.getKey());
                assertTrue(torch.equal(entry.getValue(), back), entry.getKey() + "'s values");
            }
        }
    }

    @Test
    void write_laysOutLargerTypesFirst_soEveryTensorStartsAlignedToItsElementSize() throws IOException {
        Map<String, Tensor> written = tensors();
        Path file = folder.resolve("aligned.safetensors");

        SafeTensors.write(file, written, Map.of());

        try (SafeTensors read = SafeTensors.open(file)) {
            for (String name : read.names()) {
                TensorInfo info = read.info(name);
                assertEquals(0, info.dataBegin() % info.dtype().byteSize(), name + " starts at " + info.dataBegin());
            }
            assertTrue(torch.equal(written.get("f32"), read.mapped("f32")), "a tensor maps from the file");
            assertTrue(read.metadata().isEmpty());
        }
    }

    @Test
    void write_overAFileWhoseTensorsAreMapped_leavesTheMappedTensorsTheirValues() throws IOException {
        Path file = folder.resolve("weights.safetensors");
        Tensor before = torch.ones(4, 4);
        SafeTensors.write(file, Map.of("w", before), Map.of());
        try (SafeTensors mapped = SafeTensors.open(file)) {
            Tensor weight = mapped.mapped("w");

            SafeTensors.write(file, Map.of("w", torch.zeros(4, 4)), Map.of());

            assertTrue(torch.equal(before, weight), "the mapped tensor keeps the old file's pages");
        }
        try (SafeTensors replaced = SafeTensors.open(file)) {
            assertTrue(torch.equal(torch.zeros(4, 4), replaced.tensor("w")));
        }
        assertFalse(Files.exists(folder.resolve("weights.safetensors.writing")));
    }

    @Test
    void write_ofAReservedNameOrAnUndefinedTensor_isRefusedNamingIt_andWritesNothing() {
        Path file = folder.resolve("refused.safetensors");

        IllegalArgumentException reserved = assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.write(file, Map.of("__metadata__", torch.ones(1)), Map.of()));
        IllegalArgumentException undefined = assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.write(file, Map.of("nothing", new Tensor()), Map.of()));

        assertTrue(reserved.getMessage().contains("\"__metadata__\""), reserved.getMessage());
        assertTrue(undefined.getMessage().contains("\"nothing\" is undefined"), undefined.getMessage());
        assertFalse(Files.exists(file));
    }
}
