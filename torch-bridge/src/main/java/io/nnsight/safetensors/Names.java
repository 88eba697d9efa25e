package io.nnsight.safetensors;

import io.nnsight.spi.CloseMatches;
import java.util.Collection;
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
        return CloseMatches.closest(name, known, MAX_SUGGESTIONS, Integer.MAX_VALUE).stream()
                .collect(Collectors.joining("\", \"", message + "; closest names: \"", "\""));
    }
}
