package io.nnsight.safetensors;

import java.util.Collection;
import java.util.Comparator;
import java.util.stream.Collectors;

/** Error messages for tensor names that do not exist, with the closest existing names as suggestions. */
final class Names {
    private static final int MAX_SUGGESTIONS = 5;

    private Names() {}

    /**
     * Returns the message for a missing tensor, for example {@code No tensor named "lm_head.weights" in
     * /models/x/model.safetensors; closest names: "lm_head.weight", "model.norm.weight"}.
     *
     * @param known the names that do exist, in the order ties between equally close names are listed
     * @param where the file or folder that was searched
     */
    static String unknownTensor(String name, Collection<String> known, Object where) {
        String message = "No tensor named \"" + name + "\" in " + where;
        if (known.isEmpty()) {
            return message + ", which holds no tensors";
        }
        return known.stream()
                .map(candidate -> new Candidate(candidate, editDistance(name, candidate)))
                .sorted(Comparator.comparingInt(Candidate::distance))
                .limit(MAX_SUGGESTIONS)
                .map(Candidate::name)
                .collect(Collectors.joining("\", \"", message + "; closest names: \"", "\""));
    }

    /** The Levenshtein distance: the fewest one-character insertions, deletions and substitutions from a to b. */
    static int editDistance(String a, String b) {
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

    private record Candidate(String name, int distance) {}
}
