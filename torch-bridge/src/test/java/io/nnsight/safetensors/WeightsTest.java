package io.nnsight.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.ScopePerTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(ScopePerTest.class)
class WeightsTest {
    private static final String SHARD_1 = "model-00001-of-00002.safetensors";
    private static final String SHARD_2 = "model-00002-of-00002.safetensors";

    private static final String WEIGHT_MAP = "\"embed.weight\": \"" + SHARD_1 + "\", "
            + "\"layer.0.weight\": \"" + SHARD_1 + "\", "
            + "\"layer.1.weight\": \"" + SHARD_2 + "\", "
            + "\"lm_head.weight\": \"" + SHARD_2 + "\"";

    @TempDir
    Path folder;

    private void writeShards() throws IOException {
        new SafeTensorsWriter()
                .f32("embed.weight", new long[] {2, 2}, 1f, 2f, 3f, 4f)
                .f32("layer.0.weight", new long[] {2}, 5f, 6f)
                .write(folder.resolve(SHARD_1));
        new SafeTensorsWriter()
                .bf16("layer.1.weight", new long[] {2}, 7f, 8f)
                .f32("lm_head.weight", new long[] {1, 2}, 9f, 10f)
                .write(folder.resolve(SHARD_2));
    }

    private void writeIndex(String weightMap) throws IOException {
        Files.writeString(folder.resolve(Weights.INDEX_FILE),
                "{\"metadata\": {\"total_size\": 32}, \"weight_map\": {" + weightMap + "}}");
    }

    private static Tensor floats(float... values) {
        Tensor tensor = torch.zeros(new long[] {values.length}, new TensorOptions(ScalarType.Float));
        for (int i = 0; i < values.length; i++) {
            tensor.get(i).fill_(new Scalar(values[i]));
        }
        return tensor;
    }

    @Test
    void open_shardedFolderReadsEveryTensorFromItsShard() throws IOException {
        writeShards();
        writeIndex(WEIGHT_MAP);
        try (Weights weights = Weights.open(folder)) {
            assertEquals(List.of("embed.weight", "layer.0.weight", "layer.1.weight", "lm_head.weight"),
                    List.copyOf(weights.names()));
            assertEquals(DType.BF16, weights.info("layer.1.weight").dtype());
            assertTrue(torch.equal(floats(1f, 2f, 3f, 4f).reshape(2, 2), weights.tensor("embed.weight")));
            assertTrue(torch.equal(floats(9f, 10f).reshape(1, 2), weights.tensor("lm_head.weight")));

            Tensor destination = torch.zeros(new long[] {2}, new TensorOptions(ScalarType.Float));
            weights.copyInto("layer.1.weight", destination);
            assertTrue(torch.equal(floats(7f, 8f), destination));
        }
    }

    @Test
    void open_singleFileIsPreferredToAnIndex() throws IOException {
        new SafeTensorsWriter().f32("only", new long[] {1}, 1f).write(folder.resolve(Weights.SINGLE_FILE));
        writeIndex("\"missing\": \"nowhere.safetensors\"");
        try (Weights weights = Weights.open(folder)) {
            assertEquals(List.of("only"), List.copyOf(weights.names()));
        }
    }

    @Test
    void tensor_unknownNameListsClosestNamesAcrossShards() throws IOException {
        writeShards();
        writeIndex(WEIGHT_MAP);
        try (Weights weights = Weights.open(folder)) {
            IllegalArgumentException error =
                    assertThrows(IllegalArgumentException.class, () -> weights.tensor("layer.2.weight"));
            assertTrue(error.getMessage().startsWith("No tensor named \"layer.2.weight\" in " + folder
                    + "; closest names: \"layer.0.weight\", \"layer.1.weight\""), error.getMessage());
        }
    }

    @Test
    void open_folderWithoutWeightsListsItsContents() throws IOException {
        Files.writeString(folder.resolve("config.json"), "{}");
        Files.writeString(folder.resolve("pytorch_model.bin"), "");
        NoSuchFileException error = assertThrows(NoSuchFileException.class, () -> Weights.open(folder));
        assertEquals(folder + ": neither model.safetensors nor model.safetensors.index.json is in this folder, "
                + "which contains [config.json, pytorch_model.bin]", error.getMessage());
    }

    @Test
    void open_missingFolderNamesIt() {
        Path missing = folder.resolve("absent");
        NoSuchFileException error = assertThrows(NoSuchFileException.class, () -> Weights.open(missing));
        assertEquals(missing + ": no such model folder", error.getMessage());
    }

    @Test
    void open_missingShardNamesShardIndexAndTensor() throws IOException {
        writeShards();
        Files.delete(folder.resolve(SHARD_2));
        writeIndex(WEIGHT_MAP);
        NoSuchFileException error = assertThrows(NoSuchFileException.class, () -> Weights.open(folder));
        assertEquals(folder.resolve(SHARD_2) + ": this shard, named in " + folder.resolve(Weights.INDEX_FILE)
                + " for tensor \"layer.1.weight\", does not exist", error.getMessage());
    }

    @Test
    void open_indexPuttingTensorInWrongShardFails() throws IOException {
        writeShards();
        writeIndex(WEIGHT_MAP.replace("\"lm_head.weight\": \"" + SHARD_2, "\"lm_head.weight\": \"" + SHARD_1));
        SafeTensorsFormatException error =
                assertThrows(SafeTensorsFormatException.class, () -> Weights.open(folder));
        assertEquals(folder.resolve(Weights.INDEX_FILE) + ": the weight_map puts tensor \"lm_head.weight\" in "
                + SHARD_1 + ", which does not contain it", error.getMessage());
    }

    @Test
    void open_shardOutsideTheFolderIsRejected() throws IOException {
        writeIndex("\"x\": \"../elsewhere.safetensors\"");
        SafeTensorsFormatException error =
                assertThrows(SafeTensorsFormatException.class, () -> Weights.open(folder));
        assertTrue(error.getMessage().contains("not a file inside the model folder"), error.getMessage());
    }

    @Test
    void open_invalidIndexJsonNamesTheIndex() throws IOException {
        Files.writeString(folder.resolve(Weights.INDEX_FILE), "{\"weight_map\": ");
        SafeTensorsFormatException error =
                assertThrows(SafeTensorsFormatException.class, () -> Weights.open(folder));
        assertTrue(error.getMessage().startsWith(folder.resolve(Weights.INDEX_FILE) + ": the index is not valid JSON"),
                error.getMessage());
    }

    @Test
    void open_indexWithoutWeightMapFails() throws IOException {
        Files.writeString(folder.resolve(Weights.INDEX_FILE), "{\"metadata\": {}}");
        SafeTensorsFormatException error =
                assertThrows(SafeTensorsFormatException.class, () -> Weights.open(folder));
        assertEquals(folder.resolve(Weights.INDEX_FILE) + ": the index has no \"weight_map\" object",
                error.getMessage());
    }

    @Test
    void close_isIdempotentAndLaterUseFailsClearly() throws IOException {
        writeShards();
        writeIndex(WEIGHT_MAP);
        Weights weights = Weights.open(folder);
        weights.close();
        weights.close();
        assertThrows(IllegalStateException.class, () -> weights.tensor("embed.weight"));
    }
}
