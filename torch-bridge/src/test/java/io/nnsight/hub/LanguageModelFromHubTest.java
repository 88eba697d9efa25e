package io.nnsight.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a language model by hub id, from a real HTTP server on loopback that serves stories260K. */
class LanguageModelFromHubTest {
    @TempDir
    Path cache;

    private static Map<String, byte[]> storiesFiles() throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (String name : new String[] {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json"}) {
            files.put(name, Files.readAllBytes(Shared.path("models/stories260K").resolve(name)));
        }
        return files;
    }

    @Test
    void load_repositoryId_downloadsIntoTheCache_andRunsTheModel() throws IOException {
        try (FakeHub hub = new FakeHub("karpathy/stories260K")) {
            hub.publish(storiesFiles());
            HubClient client = HubClient.create(HubSettings.builder().endpoint(hub.endpoint()).cacheDir(cache).build());

            LanguageModel lm = LanguageModel.load("karpathy/stories260K", LanguageModel.Options.defaults().hub(client));

            assertTrue(lm.folder().startsWith(cache.resolve("models--karpathy--stories260K")), lm.folder().toString());
            String text = lm.generate("Once upon a time", Generation.maxNewTokens(8)).texts().get(0);
            assertEquals(", there was a little girl", text);
            int downloads = hub.gets().size();

            HubClient offline = HubClient.create(HubSettings.builder().endpoint(hub.endpoint()).cacheDir(cache)
                    .offline(true).build());
            LanguageModel again = LanguageModel.load("karpathy/stories260K", LanguageModel.Options.defaults().hub(offline));
            assertEquals(lm.folder(), again.folder());
            assertEquals(downloads, hub.gets().size(), "the second load downloaded again");
        }
    }

    @Test
    void load_unknownRepository_saysNeitherFolderNorHubHasIt() throws IOException {
        try (FakeHub hub = new FakeHub("karpathy/stories260K")) {
            hub.publish(storiesFiles());
            HubClient client = HubClient.create(HubSettings.builder().endpoint(hub.endpoint()).cacheDir(cache).build());

            IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                    () -> LanguageModel.load("nobody/nothing", LanguageModel.Options.defaults().hub(client)));

            assertTrue(error.getMessage().contains("no model folder at"), error.getMessage());
            assertTrue(error.getMessage().contains("'nobody/nothing'"), error.getMessage());
        }
    }
}
