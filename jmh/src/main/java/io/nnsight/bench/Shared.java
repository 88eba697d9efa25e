package io.nnsight.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/** The models of {@code ../shared} that the benchmarks run, found beside the project folder they run from. */
final class Shared {
    private Shared() {}

    /** {@code shared/<relative>} in the nearest ancestor of the working directory that has it. */
    static Path path(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve(relative);
            if (Files.exists(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared/" + relative + " not found: run from the project folder, beside ../shared");
    }
}
