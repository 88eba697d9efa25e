package io.nnsight.spi;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * The suggestions of an error message about a name that does not exist: the existing names closest to it by
 * edit distance, as nnsight's messages give them ("No module at 'layers.3.mpl' ... Close matches:
 * layers.3.mlp").
 *
 * <pre>{@code
 * List<String> close = CloseMatches.closest("lm_head.weights", file.names(), 5, Integer.MAX_VALUE);
 * }</pre>
 */
public final class CloseMatches {
    private CloseMatches() {}

    /**
     * Up to {@code limit} names of {@code known} closest to {@code wanted}, closest first; names equally close
     * keep their order in {@code known}. Empty names are never suggested.
     *
     * @param maxDistance the largest edit distance a suggestion may have
     */
    public static List<String> closest(String wanted, Collection<String> known, int limit, int maxDistance) {
        return known.stream()
                .filter(name -> !name.isEmpty())
                .map(name -> new Scored(name, distance(wanted, name)))
                .filter(scored -> scored.distance <= maxDistance)
                .sorted(Comparator.comparingInt(Scored::distance))
                .limit(limit)
                .map(Scored::name)
                .toList();
    }

    private record Scored(String name, int distance) {}

    /** The Levenshtein distance: the fewest one-character insertions, deletions and substitutions from a to b. */
    public static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
