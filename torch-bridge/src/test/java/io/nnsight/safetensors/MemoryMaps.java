package io.nnsight.safetensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** The process's memory mappings ({@code /proc/self/maps}, Linux): whether an address lies in a mapping of a file. */
public final class MemoryMaps {
    private MemoryMaps() {}

    /** Whether {@code address} lies in a mapping of {@code file}. */
    public static boolean isMapped(long address, Path file) {
        for (String line : mappingsOf(file)) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            if (Long.compareUnsigned(address, Long.parseUnsignedLong(range[0], 16)) >= 0
                    && Long.compareUnsigned(address, Long.parseUnsignedLong(range[1], 16)) < 0) {
                return true;
            }
        }
        return false;
    }

    /** The lines of {@code /proc/self/maps} that map {@code file}. */
    public static List<String> mappingsOf(Path file) {
        try {
            String path = file.toRealPath().toString();
            return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(line -> line.endsWith(" " + path))
                    .collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
