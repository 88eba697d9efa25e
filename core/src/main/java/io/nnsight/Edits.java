package io.nnsight;

import io.nnsight.internal.TraceRun;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The persistent edits of a wrapper ({@link NNsight#edit}): trace bodies that each of its traces runs first, as
 * invokes without input, in order. Immutable: adding one makes new edits, so copies of a wrapper share theirs
 * safely.
 */
final class Edits {
    static final Edits NONE = new Edits(List.of());

    private final List<TraceBody<?>> bodies;

    private Edits(List<TraceBody<?>> bodies) {
        this.bodies = bodies;
    }

    /** These edits, then {@code body}. */
    Edits plus(TraceBody<?> body) {
        List<TraceBody<?>> all = new ArrayList<>(bodies);
        all.add(body);
        return new Edits(Collections.unmodifiableList(all));
    }

    /** The edit bodies, in the order they run. */
    List<TraceBody<?>> bodies() {
        return bodies;
    }

    /** Adds each edit to {@code run} as an invoke without input, before its own invokes, run with {@code tracer}. */
    void addTo(TraceRun run, Tracer tracer) {
        for (TraceBody<?> edit : bodies) {
            run.addEdit(edit.getClass(), () -> {
                edit.run(tracer);
                return null;
            });
        }
    }
}
