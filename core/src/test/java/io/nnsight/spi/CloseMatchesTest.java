package io.nnsight.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class CloseMatchesTest {
    private final List<String> paths = List.of("", "layers", "layers.0", "layers.1", "layers.10", "head", "norm");

    @Test
    void closest_ranksByEditDistance() {
        assertEquals(List.of("layers.1", "layers.10", "layers.0"), CloseMatches.closest("layers.12", paths, 3, 3));
        assertEquals(List.of("head"), CloseMatches.closest("haed", paths, 3, 2));
    }

    @Test
    void closest_dropsFarOffPaths() {
        assertEquals(List.of(), CloseMatches.closest("transformer.h.0", paths, 3, 5));
    }

    @Test
    void closest_equallyClose_keepTheirOrder_andEmptyNamesAreNeverSuggested() {
        assertEquals(List.of("bb", "ac"), CloseMatches.closest("ab", List.of("", "bb", "ac"), 5, 9));
        assertEquals(List.of("ac", "bb"), CloseMatches.closest("ab", List.of("ac", "", "bb"), 5, 9));
    }

    @Test
    void distance_isLevenshtein() {
        assertEquals(3, CloseMatches.distance("kitten", "sitting"));
        assertEquals(0, CloseMatches.distance("", ""));
        assertEquals(4, CloseMatches.distance("", "head"));
    }
}
