package io.nnsight.internal;

import java.util.ArrayDeque;

/** Which trace the current thread runs code of: the trace's caller and its invoke bodies. */
public final class TraceContext {
    private static final ThreadLocal<ArrayDeque<TraceRun>> RUNS = ThreadLocal.withInitial(ArrayDeque::new);

    private TraceContext() {}

    /** The innermost trace the current thread works for, or {@code null} outside traces. */
    public static TraceRun current() {
        return RUNS.get().peek();
    }

    static void enter(TraceRun run) {
        RUNS.get().push(run);
    }

    static void leave(TraceRun run) {
        ArrayDeque<TraceRun> runs = RUNS.get();
        runs.remove(run);
        if (runs.isEmpty()) {
            RUNS.remove();
        }
    }

    /** Whether the current thread works for a trace of {@code target}. */
    static boolean isInside(TraceTarget target) {
        for (TraceRun run : RUNS.get()) {
            if (run.target() == target) {
                return true;
            }
        }
        return false;
    }
}
