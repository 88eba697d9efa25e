package io.nnsight.internal;

import io.nnsight.TraceException;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Where the running trace is found: the one place that records which traces and sessions run, and the one
 * way every part of nnsight finds them.
 *
 * <ul>
 *   <li><b>A wrapper's trace</b> ({@link #trace(TraceTarget)}): a hook on a module, and an envoy asked for a
 *       value, know their wrapper; traces of one wrapper run one at a time, so the wrapper has at most one.
 *       A field of the wrapper's {@link TraceTarget}, read without a lock (hooks run at every module call). A
 *       scan's trace runs on a copy of the model on the meta device and is its wrapper's trace too.
 *   <li><b>The trace this thread works for</b> ({@link #traceHere()}): code that knows no wrapper, such as
 *       {@code NNsight.save}, a model runner's end of steps and the operations inside a traced module's code,
 *       asks the thread. A thread works for a trace while it runs the trace's caller (the set-up body and the
 *       model) or one of its invoke bodies; a body of trace A that starts trace B works for B until B returns.
 *   <li><b>The session this thread runs</b> ({@link #sessionHere()}), for the values a trace keeps beyond itself.
 * </ul>
 *
 * <p>The thread's record is a stack of frames, one per trace or session entered: a trace's caller and each of
 * its invoke bodies enter a frame of the trace, so a body on a thread of its own (the thread engine) and a
 * body that runs as a continuation on the model's thread find the same trace. Frames are removed by
 * identity, not from the top: a continuation's body leaves its frame when it ends, possibly after frames
 * entered by other continuations on the same thread.
 *
 * <p>Cost: outside traces the hooks read one volatile field; {@link #anyTrace()} lets the operation call
 * sites in rewritten module code skip even the thread-local read while no trace runs anywhere.
 */
public final class Running {
    private static final ThreadLocal<ArrayDeque<Object>> FRAMES = new ThreadLocal<>();
    private static final ArrayDeque<Object> NONE = new ArrayDeque<>(0);
    private static final AtomicInteger TRACES = new AtomicInteger();

    private Running() {}

    // ---- recording (traces and sessions only) ----

    /**
     * Starts {@code run} on the calling thread: takes its wrapper's lock (a second trace of the wrapper on
     * another thread waits), makes it the wrapper's trace, and enters its frame.
     *
     * @throws TraceException when the calling thread already works for a trace of the same wrapper
     */
    static void begin(TraceRun run) {
        TraceTarget target = run.target();
        TraceTarget standIn = run.standingInFor();
        for (Object frame : frames()) {
            if (frame instanceof TraceRun other && (serves(other, target) || standIn != null && serves(other, standIn))) {
                throw new TraceException("a trace of this model is already running on this thread: a trace cannot be "
                        + "started inside another trace of the same wrapper; use several invokes in one trace");
            }
        }
        // a scan locks its stand-in's target, then the model's: nothing else takes the stand-in's
        target.lock();
        if (standIn != null) {
            standIn.lock();
            standIn.running = run;
        }
        target.running = run;
        TRACES.incrementAndGet();
        enter(run);
    }

    private static boolean serves(TraceRun run, TraceTarget target) {
        return run.target() == target || run.standingInFor() == target;
    }

    /** Ends what {@link #begin} started. */
    static void end(TraceRun run) {
        leave(run);
        TRACES.decrementAndGet();
        TraceTarget target = run.target();
        target.running = null;
        TraceTarget standIn = run.standingInFor();
        if (standIn != null) {
            standIn.running = null;
            standIn.unlock();
        }
        target.unlock();
    }

    /** Enters a frame of {@code traceOrSession} on the calling thread: an invoke body starts, or a session. */
    static void enter(Object traceOrSession) {
        ArrayDeque<Object> frames = FRAMES.get();
        if (frames == null) {
            frames = new ArrayDeque<>();
            FRAMES.set(frames);
        }
        frames.push(traceOrSession);
    }

    /** Leaves the frame {@link #enter} entered. */
    static void leave(Object traceOrSession) {
        ArrayDeque<Object> frames = frames();
        frames.removeFirstOccurrence(traceOrSession);
        if (frames.isEmpty() && frames != NONE) {
            FRAMES.remove();
        }
    }

    // ---- finding ----

    /** The trace of the wrapper of {@code target} that runs now, on any thread, or {@code null}. */
    public static TraceRun trace(TraceTarget target) {
        return target.running;
    }

    /** The innermost trace the calling thread works for, or {@code null}. */
    public static TraceRun traceHere() {
        if (TRACES.get() == 0) {
            return null;
        }
        for (Object frame : frames()) {
            if (frame instanceof TraceRun) {
                return (TraceRun) frame;
            }
        }
        return null;
    }

    /** The innermost session the calling thread runs, or {@code null}. */
    static SessionRun sessionHere() {
        for (Object frame : frames()) {
            if (frame instanceof SessionRun) {
                return (SessionRun) frame;
            }
        }
        return null;
    }

    /**
     * The interleaver of the trace whose model runs on the calling thread and is observed now (a module of
     * it is running, no body is), or {@code null}: what an operation inside a traced module's code reports to.
     */
    public static Interleaver observingHere() {
        TraceRun run = traceHere();
        Interleaver interleaver = run == null ? null : run.interleaver();
        return interleaver != null && interleaver.isObserving() ? interleaver : null;
    }

    /** Whether any trace runs now, on any thread: the cheap test before {@link #observingHere()}. */
    public static boolean anyTrace() {
        return TRACES.get() > 0;
    }

    /**
     * Keeps {@code value} beyond the innermost trace or session the calling thread works for: {@code
     * NNsight.save}.
     *
     * @throws IllegalStateException outside traces and sessions
     */
    public static void save(Object value) {
        for (Object frame : frames()) {
            if (frame instanceof TraceRun) {
                ((TraceRun) frame).save(value);
                return;
            }
            if (frame instanceof SessionRun) {
                ((SessionRun) frame).save(value);
                return;
            }
        }
        throw new IllegalStateException("NNsight.save(...) can only be called inside a trace or a session: it keeps a "
                + "value past the end of the trace that made it, and values made outside traces are not freed by "
                + "nnsight");
    }

    /** The calling thread's frames, innermost first; empty (and shared) when it has none. */
    private static ArrayDeque<Object> frames() {
        ArrayDeque<Object> frames = FRAMES.get();
        return frames == null ? NONE : frames;
    }
}
