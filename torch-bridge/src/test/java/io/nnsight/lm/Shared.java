package io.nnsight.lm;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The models and fixtures in {@code ../shared}, beside the project's root, for the tests of every module (the
 * other modules depend on this module's test jar).
 */
public final class Shared {
    /** A prompt of stories260K's training stories. */
    public static final String STORIES_PROMPT = "Once upon a time, there was a little girl named Lily.";

    private Shared() {}

    /** Loads a fresh copy of {@code models/stories260K}, the real tiny Llama. */
    public static LanguageModel stories() {
        return LanguageModel.load(path("models/stories260K").toString());
    }

    /** {@code shared/<relative>}, found in the nearest ancestor of the working directory that has it. */
    public static Path path(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve(relative);
            if (Files.exists(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared/" + relative + " not found beside the project (expected ../shared)");
    }

    /** A reference.json as a JSON object. */
    public static JsonObject reference(String relative) {
        try {
            return JsonParser.parseString(Files.readString(path(relative), StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Copies the files of fixture {@code name} into {@code folder}, its {@code config.json} changed by {@code change}:
     * a variant of a shared fixture that a test needs (the shared files stay as they are).
     */
    public static void fixtureVariant(String name, Path folder, Consumer<JsonObject> change) {
        Path source = path("fixtures/" + name);
        try (Stream<Path> files = Files.list(source)) {
            for (Path file : files.toList()) {
                if (!file.getFileName().toString().equals("config.json")) {
                    Files.copy(file, folder.resolve(file.getFileName()));
                }
            }
            JsonObject config = JsonParser.parseString(Files.readString(source.resolve("config.json"))).getAsJsonObject();
            change.accept(config);
            Files.writeString(folder.resolve("config.json"), config.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
