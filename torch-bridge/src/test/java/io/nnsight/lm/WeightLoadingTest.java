package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.decoder.ScaledEmbedding;
import io.nnsight.nn.Linear;
import io.nnsight.safetensors.DType;
import io.nnsight.safetensors.MemoryMaps;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * How weights load: memory-mapped from the checkpoint, not copied, when stored in the type the model runs in (one
 * file or shards), converted into memory of their own otherwise; a tied output layer shares the embedding.
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
}
