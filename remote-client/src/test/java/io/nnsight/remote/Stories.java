package io.nnsight.remote;

import io.nnsight.lm.LanguageModel;
import java.nio.file.Files;
import java.nio.file.Path;

/** The real tiny Llama of {@code ../shared/models/stories260K}, for the tests of the remote path. */
public final class Stories {
    /** A prompt of the model's training stories. */
    public static final String PROMPT = "Once upon a time, there was a little girl named Lily.";

    private Stories() {}

    /** Loads a fresh copy of stories260K. */
    public static LanguageModel load() {
        return LanguageModel.load(shared("models/stories260K").toString());
    }

    /** {@code shared/<relative>}, found in the nearest ancestor of the working directory that has it. */
    public static Path shared(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve(relative);
            if (Files.exists(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared/" + relative + " not found beside the project (expected ../shared)");
    }
}
