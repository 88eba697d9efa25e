package io.nnsight.internal;

import io.nnsight.spi.Debug;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Makes the stack trace of an error raised in a trace read like one of plain Java code: the tracing
 * engine's frames are removed, and an error raised in an intervention body (which ran on another thread)
 * continues with the frames of the code that called {@code trace}. In {@linkplain Debug debug mode} the
 * engine's frames stay.
 */
public final class StackTraces {
    private static final String[] HIDDEN_PACKAGES = {
        "io.nnsight.internal.", "io.nnsight.spi.statemachine.", "io.nnsight.instrument.", "java.lang.invoke.",
        "jdk.internal.reflect.", "jdk.internal.vm.", "java.util.concurrent.ForkJoin"
    };
    private static final Set<String> HIDDEN_CLASSES = Set.of(
            "io.nnsight.NNsight", "io.nnsight.Envoy", "io.nnsight.Accessor", "io.nnsight.Operation", "io.nnsight.Source",
            "io.nnsight.Tracer", "io.nnsight.Barrier", "io.nnsight.Invoke",
            "io.nnsight.spi.HookPoint", "io.nnsight.spi.OperationCalls", "io.nnsight.nn.HookedModule",
            "java.lang.reflect.Method", "java.lang.Thread",
            "java.lang.VirtualThread");
    /** The engines' packages: a frame of theirs under an error means that a body raised it. */
    private static final String[] ENGINE_PACKAGES = {"io.nnsight.internal.engine.", "io.nnsight.spi.statemachine."};

    private StackTraces() {}

    /**
     * Rewrites the stack trace of {@code error} (and of its causes and suppressed errors) for the user.
     *
     * @param callerFrames the stack of the thread that called {@code trace}, taken where the error is
     *     rethrown
     */
    public static void clean(Throwable error, StackTraceElement[] callerFrames) {
        clean(error, callerFrames, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private static void clean(Throwable error, StackTraceElement[] callerFrames, Set<Throwable> seen) {
        if (error == null || !seen.add(error)) {
            return;
        }
        boolean debug = Debug.enabled();
        StackTraceElement[] frames = error.getStackTrace();
        boolean fromBody = false;
        List<StackTraceElement> kept = new ArrayList<>(frames.length + callerFrames.length);
        for (StackTraceElement frame : frames) {
            fromBody |= startsWithAny(frame.getClassName(), ENGINE_PACKAGES);
            if (debug || !isHidden(frame)) {
                kept.add(frame);
            }
        }
        if (fromBody) {
            for (StackTraceElement frame : callerFrames) {
                if (debug || !isHidden(frame)) {
                    kept.add(frame);
                }
            }
        }
        error.setStackTrace(kept.toArray(new StackTraceElement[0]));
        clean(error.getCause(), callerFrames, seen);
        for (Throwable suppressed : error.getSuppressed()) {
            clean(suppressed, callerFrames, seen);
        }
    }

    static boolean isHidden(StackTraceElement frame) {
        String name = frame.getClassName();
        if (startsWithAny(name, HIDDEN_PACKAGES)) {
            return true;
        }
        int nested = name.indexOf('$');
        return HIDDEN_CLASSES.contains(nested < 0 ? name : name.substring(0, nested));
    }

    private static boolean startsWithAny(String name, String[] prefixes) {
        for (String prefix : prefixes) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /** Throws any throwable, checked or not, without declaring it. */
    @SuppressWarnings("unchecked")
    public static <T extends Throwable> RuntimeException rethrow(Throwable error) throws T {
        throw (T) error;
    }
}
