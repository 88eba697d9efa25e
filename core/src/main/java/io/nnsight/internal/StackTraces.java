package io.nnsight.internal;

import io.nnsight.FreedTensorException;
import io.nnsight.spi.Debug;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Makes the stack trace of an error raised in a trace read like one of plain Java code: the tracing
 * engine's frames are removed, and an error raised in an intervention body (which ran on another thread,
 * or on a continuation) continues with the frames of the code that called {@code trace}. In {@linkplain
 * Debug debug mode} the engine's frames stay.
 *
 * <p>The frames below the outermost call into nnsight (the user's {@code main}, and whatever called it) are
 * kept exactly as they were, reflection included: launchers cut their own frames off the bottom of an
 * uncaught error by counting them ({@code java Foo.java} drops as many as its own call of {@code main}
 * has, {@code jshell} everything below the snippet), and would cut the user's instead if that tail were
 * shorter.
 *
 * <p>JavaCPP's {@code NullPointerException} for a freed object ("This pointer address is NULL", "Pointer
 * address of argument 0 is NULL") gets a
 * {@link FreedTensorException} as its cause, which says that a trace frees what it made and how to keep it.
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
    /** What JavaCPP says when a native method is called on a freed object, or given one as an argument. */
    private static final Pattern FREED = Pattern.compile("(This pointer address|Pointer address of argument \\d+) is NULL\\.");
    /** The engines' packages: a frame of theirs under an error means that a body raised it. */
    private static final String[] ENGINE_PACKAGES = {"io.nnsight.internal.engine.", "io.nnsight.spi.statemachine."};
    /** The package of the engines that call bodies: a body's own frames end at the first of theirs below it. */
    private static final String[] BODY_CALLERS = {"io.nnsight.internal.engine."};

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
        StackTraceElement[] frames = error.getStackTrace();
        boolean fromBody = false;
        for (StackTraceElement frame : frames) {
            fromBody |= startsWithAny(frame.getClassName(), ENGINE_PACKAGES);
        }
        List<StackTraceElement> kept = new ArrayList<>(frames.length + callerFrames.length);
        if (Debug.enabled()) {
            kept.addAll(List.of(frames));
            if (fromBody) {
                kept.addAll(List.of(callerFrames));
            }
        } else if (fromBody) {
            // The body's frames, from where it threw down to the engine that called it; then the caller's.
            addVisible(kept, frames, 0, bodyEnd(frames));
            int callerTail = belowNnsight(callerFrames);
            addVisible(kept, callerFrames, 0, callerTail);
            kept.addAll(List.of(callerFrames).subList(callerTail, callerFrames.length));
        } else {
            int tail = belowNnsight(frames);
            addVisible(kept, frames, 0, tail);
            kept.addAll(List.of(frames).subList(tail, frames.length));
        }
        error.setStackTrace(kept.toArray(new StackTraceElement[0]));
        if (error instanceof NullPointerException && error.getMessage() != null
                && FREED.matcher(error.getMessage()).matches() && error.getCause() == null) {
            FreedTensorException why = new FreedTensorException("a tensor (or another native object) used here");
            why.setStackTrace(new StackTraceElement[0]);
            seen.add(why);
            try {
                error.initCause(why);
            } catch (IllegalStateException causeSetToNull) {
                // made with an explicit null cause: it keeps it
            }
        }
        clean(error.getCause(), callerFrames, seen);
        for (Throwable suppressed : error.getSuppressed()) {
            clean(suppressed, callerFrames, seen);
        }
    }

    /** Adds the frames of {@code frames[from, to)} that are not hidden. */
    private static void addVisible(List<StackTraceElement> kept, StackTraceElement[] frames, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!isHidden(frames[i])) {
                kept.add(frames[i]);
            }
        }
    }

    /** Where a body's frames end: at the first engine frame that called a visible frame above it. */
    private static int bodyEnd(StackTraceElement[] frames) {
        boolean visible = false;
        for (int i = 0; i < frames.length; i++) {
            if (visible && startsWithAny(frames[i].getClassName(), BODY_CALLERS)) {
                return i;
            }
            visible |= !isHidden(frames[i]);
        }
        return frames.length;
    }

    /** The index of the first frame below the outermost hidden frame of nnsight's: the caller's own stack. */
    private static int belowNnsight(StackTraceElement[] frames) {
        for (int i = frames.length - 1; i >= 0; i--) {
            if (frames[i].getClassName().startsWith("io.nnsight.") && isHidden(frames[i])) {
                return i + 1;
            }
        }
        return 0;
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
