package io.nnsight.examples;

import java.nio.file.Files;
import java.nio.file.Path;

/** The models and fixtures of {@code ../shared}, for the tests of this module. */
public final class SharedFiles {
    private SharedFiles() {}

    /** {@code shared/<relative>}, found in the nearest ancestor of the working directory that has it. */
    public static Path path(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir.resolve("shared").resolve(relative))) {
                return dir.resolve("shared").resolve(relative);
            }
        }
        throw new IllegalStateException("shared/" + relative + " not found beside the project");
    }
}
