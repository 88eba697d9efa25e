package io.nnsight.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * stories260K rewritten in other checkpoint layouts (bfloat16 and float16 weights, an untied output layer,
 * sharded files) loads into the same model.
 */
class CheckpointLayoutsTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    private static Path stories;
    private static Tensor reference;

    @TempDir
    Path folder;

    @BeforeAll
    static void referenceLogits() {
        stories = Shared.path("models/stories260K");
        reference = lastLogits(LanguageModel.load(stories.toString()));
    }

    private static Tensor lastLogits(LanguageModel lm) {
        return lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1).select(0, 0));
    }

    private void copyTextFiles(String config) throws IOException {
        Files.writeString(folder.resolve("config.json"), config);
        for (String file : List.of("generation_config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(stories.resolve(file), folder.resolve(file));
        }
    }

    private static String config(boolean tied) throws IOException {
        JsonObject config = JsonParser.parseString(Files.readString(stories.resolve("config.json"))).getAsJsonObject();
        config.addProperty("tie_word_embeddings", tied);
        return config.toString();
    }

    /** Writes the stories260K tensors named {@code names} as {@code dtype} (plus an lm_head copy if asked). */
    private static void write(Path file, List<String> names, String dtype, boolean withHead) throws IOException {
        SafeTensorsWriter writer = new SafeTensorsWriter();
        try (SafeTensors source = SafeTensors.open(stories.resolve("model.safetensors"))) {
            for (String name : names) {
                add(writer, name, source.tensor(name), dtype);
            }
            if (withHead) {
                add(writer, "lm_head.weight", source.tensor("model.embed_tokens.weight"), dtype);
            }
        }
        writer.write(file);
    }

    private static void add(SafeTensorsWriter writer, String name, Tensor tensor, String dtype) {
        Tensor converted = (dtype.equals("F32") ? tensor : tensor.to(dtype.equals("F16") ? ScalarType.Half : ScalarType.BFloat16))
                .contiguous();
        long[] shape = new long[(int) converted.dim()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = converted.size(i);
        }
        byte[] bytes = new byte[(int) (converted.numel() * converted.element_size())];
        new BytePointer(converted.data_ptr()).capacity(bytes.length).get(bytes);
        writer.raw(name, dtype, shape, bytes);
    }

    private static List<String> names() throws IOException {
        try (SafeTensors source = SafeTensors.open(stories.resolve("model.safetensors"))) {
            return List.copyOf(source.names());
        }
    }

    @Test
    void halfPrecisionCheckpoints_loadAsFloat32_withTheSamePrediction() throws IOException {
        for (String dtype : List.of("F16", "BF16")) {
            Path dir = Files.createDirectory(folder.resolve(dtype));
            Files.writeString(dir.resolve("config.json"), config(true));
            for (String file : List.of("generation_config.json", "tokenizer.json")) {
                Files.copy(stories.resolve(file), dir.resolve(file));
            }
            write(dir.resolve("model.safetensors"), names(), dtype, false);

            Tensor logits = lastLogits(LanguageModel.load(dir.toString()));

            assertEquals(reference.argmax().item_long(), logits.argmax().item_long(), dtype);
            double tolerance = dtype.equals("F16") ? 0.02 : 0.3;
            assertTrue(torch.allclose(reference, logits, 0, tolerance, false),
                    dtype + " logits differ by " + reference.sub(logits).abs().max().item_double());
        }
    }

    @Test
    void untiedOutputLayer_isLoadedFromItsOwnWeight() throws IOException {
        copyTextFiles(config(false));
        write(folder.resolve("model.safetensors"), names(), "F32", true);

        LanguageModel lm = LanguageModel.load(folder.toString());

        assertTrue(torch.equal(reference, lastLogits(lm)));
        assertTrue(lm.get("lm_head").module() != lm.get("model.embed_tokens").module());
    }

    @Test
    void shardedCheckpoint_loadsThroughItsIndex() throws IOException {
        copyTextFiles(config(true));
        List<String> names = names();
        List<String> first = names.subList(0, names.size() / 2);
        List<String> second = names.subList(names.size() / 2, names.size());
        write(folder.resolve("model-00001-of-00002.safetensors"), first, "F32", false);
        write(folder.resolve("model-00002-of-00002.safetensors"), second, "F32", false);
        JsonObject map = new JsonObject();
        first.forEach(name -> map.addProperty(name, "model-00001-of-00002.safetensors"));
        second.forEach(name -> map.addProperty(name, "model-00002-of-00002.safetensors"));
        JsonObject index = new JsonObject();
        index.add("weight_map", map);
        Files.writeString(folder.resolve("model.safetensors.index.json"), index.toString(), StandardCharsets.UTF_8);

        assertTrue(torch.equal(reference, lastLogits(LanguageModel.load(folder.toString()))));
    }
}
