package io.nnsight.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * One value the running model offers to waiting bodies: the inputs or the output of one call of one
 * module. Bodies may replace it while it is being served.
 */
final class Provider {
    /** Which side of a module call. */
    enum Kind {
        INPUT("inputs"),
        OUTPUT("output"),
        /** The gradient of the inputs' first tensor, during a backward pass ({@link GradientRun}). */
        INPUT_GRAD("gradient of the inputs"),
        /** The gradient of the output, during a backward pass ({@link GradientRun}). */
        OUTPUT_GRAD("gradient of the output");

        final String noun;

        Kind(String noun) {
            this.noun = noun;
        }
    }

    /** A body's request to skip the module, with the rows it covers. */
    record Skip(RowRange group, Object value, String invoke) {}

    final int module;
    final Kind kind;
    final int iteration;
    Object value;
    List<Skip> skips;

    Provider(int module, Kind kind, int iteration, Object value) {
        this.module = module;
        this.kind = kind;
        this.iteration = iteration;
        this.value = value;
    }

    boolean matches(Signal.Wait wait) {
        return wait.module() == module && wait.kind() == kind && wait.iteration() == iteration;
    }

    void addSkip(Skip skip) {
        if (skips == null) {
            skips = new ArrayList<>(2);
        }
        skips.add(skip);
    }
}
