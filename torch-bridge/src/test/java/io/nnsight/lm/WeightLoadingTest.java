package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Tensors;
import io.nnsight.lm.decoder.ScaledEmbedding;
import io.nnsight.nn.Linear;
import io.nnsight.safetensors.DType;
import io.nnsight.safetensors.MemoryMaps;
import io.nnsight.safetensors.SafeTensors;
import io.nnsight.safetensors.SafeTensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How weights load: memory-mapped from the checkpoint, not copied, when stored in the type the model runs in (one
 * file or shards), converted into memory of their own otherwise; a tied output layer shares the embedding; a
 * checkpoint of the decoder alone, with buffers older checkpoints saved, loads as transformers loads it.
 */
class WeightLoadingTest {
    private static List<Path> weightFiles(String folder) throws IOException {
        try (Stream<Path> files = Files.list(Shared.path(folder))) {
            return files.filter(file -> file.toString().endsWith(".safetensors")).collect(Collectors.toList());
        }
    }

    private static boolean mapped(Tensor parameter, List<Path> files) {
        long address = parameter.data_ptr().address();
        return files.stream().anyMatch(file -> MemoryMaps.isMapped(address, file));
    }

    @Test
    void weightsStoredInTheModelsType_areTheCheckpointsPagesThemselves() throws IOException {
        for (String folder : List.of("models/stories260K", "fixtures/qwen2-tiny", "fixtures/llama3-bf16-tiny")) {
            LanguageModel lm = LanguageModel.load(Shared.path(folder).toString());
            List<Path> files = weightFiles(folder);
            StringTensorDict parameters = lm.module().named_parameters(true);

            for (long i = 0; i < parameters.size(); i++) {
                assertTrue(mapped(parameters.get(i).value(), files), folder + ": " + parameters.get(i).key().getString()
                        + " is not in a mapping of " + files);
            }
        }
    }

    @Test
    void convertedWeights_haveMemoryOfTheirOwn() throws IOException {
        LanguageModel lm = LanguageModel.load(Shared.path("fixtures/qwen3-tiny").toString(),
                LanguageModel.Options.defaults().dtype(DType.BF16));
        List<Path> files = weightFiles("fixtures/qwen3-tiny");
        StringTensorDict parameters = lm.module().named_parameters(true);

        for (long i = 0; i < parameters.size(); i++) {
            assertFalse(mapped(parameters.get(i).value(), files), parameters.get(i).key().getString());
        }
    }

    @Test
    void aTiedOutputLayer_isTheEmbedding() {
        LanguageModel lm = FamilyReferenceTest.model("gemma2-tiny");

        Tensor head = ((Linear) lm.get(lm.paths().lmHead()).module()).weight();
        Tensor embedding = ((ScaledEmbedding) lm.get(lm.paths().embedding()).module()).weight();
        assertEquals(embedding.data_ptr().address(), head.data_ptr().address());
    }

    @Test
    void aGpt2CheckpointOfTheDecoderAlone_withItsMaskBuffers_loadsAsTheHubsDoes(@TempDir Path folder) throws IOException {
        Path fixture = Shared.path("fixtures/gpt2-tiny-random");
        Files.copy(fixture.resolve("config.json"), folder.resolve("config.json"));
        SafeTensorsWriter writer = new SafeTensorsWriter();
        try (SafeTensors weights = SafeTensors.open(fixture.resolve("model.safetensors"))) {
            for (String name : weights.names()) {
                Tensor tensor = weights.tensor(name);
                writer.f32(name.substring("transformer.".length()), Tensors.shape(tensor), Tensors.floats(tensor));
            }
        }
        writer.f32("h.0.attn.bias", new long[] {1, 1, 2, 2}, 1f, 0f, 1f, 1f).write(folder.resolve("model.safetensors"));
        LanguageModel.Options tokenizer = LanguageModel.Options.defaults().tokenizer(Shared.path("tokenizers/gpt2/tokenizer.json"));
        LanguageModel renamed = LanguageModel.load(folder.toString(), tokenizer);
        LanguageModel original = LanguageModel.load(fixture.toString(), tokenizer);

        Tensor expected = original.trace("Hello world", tr -> original.output());
        assertTrue(torch.equal(expected, renamed.trace("Hello world", tr -> renamed.output())));
    }
}
