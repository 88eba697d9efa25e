package io.nnsight.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.Shared;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SafeTensors#mapped}: tensors over the file's own bytes, memory-mapped, not copies; and {@link DType#parse}.
 */
class MappedTensorsTest {
    @TempDir
    Path folder;

    private static Path stories() {
        return Shared.path("models/stories260K/model.safetensors");
    }

    @Test
    void mapped_holdsTheStoredValues_inTheFilesMemory() throws IOException {
        try (SafeTensors file = SafeTensors.open(stories())) {
            for (String name : List.of("model.embed_tokens.weight", "model.layers.3.mlp.down_proj.weight", "model.norm.weight")) {
                Tensor mapped = file.mapped(name);

                assertTrue(torch.equal(file.tensor(name), mapped), name);
                assertTrue(MemoryMaps.isMapped(mapped.data_ptr().address(), stories()), name + " is not in a mapping of "
                        + "the file:\n" + MemoryMaps.mappingsOf(stories()));
            }
        }
    }

    @Test
    void mapped_staysValidAfterTheFileIsClosed() throws IOException {
        Tensor mapped;
        Tensor copy;
        try (SafeTensors file = SafeTensors.open(stories())) {
            mapped = file.mapped("model.norm.weight");
            copy = file.tensor("model.norm.weight");
        }
        System.gc();

        assertTrue(torch.equal(copy, mapped));
    }

    @Test
    void changingAMappedTensor_neverChangesTheFile() throws IOException {
        Path file = Files.copy(stories(), folder.resolve("model.safetensors"));
        byte[] before = Files.readAllBytes(file);
        try (SafeTensors weights = SafeTensors.open(file)) {
            Tensor stored = weights.tensor("model.norm.weight");

            weights.mapped("model.norm.weight").add_(new Scalar(1.0));

            assertTrue(torch.equal(stored.add(new Scalar(1.0)), weights.mapped("model.norm.weight")), "this process's copy");
            assertTrue(torch.equal(stored, weights.tensor("model.norm.weight")), "the file, read again");
        }

        assertTrue(Arrays.equals(before, Files.readAllBytes(file)), "the file changed");
    }

    @Test
    void mapped_everyStoredTypeAndAnUnalignedTensor_giveTheStoredValues() throws IOException {
        Path file = new SafeTensorsWriter()
                .bf16("bf16", new long[] {3}, 1f, -2f, 0.5f) // 6 bytes: the float32 tensor after it is not 4-aligned
                .f32("f32", new long[] {3}, 1.5f, -1f, 2f)
                .write(folder.resolve("odd.safetensors"));
        try (SafeTensors weights = SafeTensors.open(file)) {
            for (String name : weights.names()) {
                Tensor mapped = weights.mapped(name);

                assertEquals(weights.info(name).dtype().scalarType().value, mapped.scalar_type().value, name);
                assertTrue(torch.equal(weights.tensor(name), mapped), name);
            }
        }
    }

    @Test
    void parse_readsSafetensorsAndTorchNames() {
        assertEquals(DType.BF16, DType.parse("bfloat16"));
        assertEquals(DType.BF16, DType.parse("torch.bfloat16"));
        assertEquals(DType.BF16, DType.parse("BF16"));
        assertEquals(DType.F16, DType.parse("half"));
        assertEquals(DType.F32, DType.parse("float"));
        assertEquals(DType.F32, DType.parse("Float32"));
        assertEquals(DType.I64, DType.parse("int64"));
        assertEquals(DType.BF16, DType.of(torch.ScalarType.BFloat16));
        assertEquals("bfloat16", DType.BF16.torchName());

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> DType.parse("fp8"));
        assertTrue(error.getMessage().contains("'fp8'") && error.getMessage().contains("bfloat16"), error.getMessage());
    }
}
