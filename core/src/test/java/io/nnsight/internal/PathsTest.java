package io.nnsight.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class PathsTest {
    private final List<String> paths = List.of("", "layers", "layers.0", "layers.1", "layers.10", "head", "norm");

    @Test
    void closest_ranksByEditDistance() {
        assertEquals(List.of("layers.1", "layers.10", "layers.0"), Paths.closest("layers.12", paths, 3));
        assertEquals(List.of("head"), Paths.closest("haed", paths, 3));
    }

    @Test
    void closest_dropsFarOffPaths() {
        assertEquals(List.of(), Paths.closest("transformer.h.0", paths, 3));
    }

    @Test
    void distance_isLevenshtein() {
        assertEquals(3, Paths.distance("kitten", "sitting"));
        assertEquals(0, Paths.distance("", ""));
        assertEquals(4, Paths.distance("", "head"));
    }
}
