package io.nnsight.internal;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/** Close matches for a module path that does not exist. */
public final class Paths {
    private Paths() {}

    /** Up to {@code limit} paths from {@code known} closest to {@code wanted}, closest first. */
    public static List<String> closest(String wanted, Collection<String> known, int limit) {
        int tolerance = Math.max(2, wanted.length() / 3);
        return known.stream()
                .filter(path -> !path.isEmpty())
                .map(path -> new Scored(path, distance(wanted, path)))
                .filter(scored -> scored.distance <= tolerance)
                .sorted(Comparator.comparingInt(Scored::distance).thenComparing(Scored::path))
                .limit(limit)
                .map(Scored::path)
                .collect(Collectors.toList());
    }

    private record Scored(String path, int distance) {}

    /** The Levenshtein distance between two strings. */
    static int distance(String a, String b) {
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
