package io.nnsight.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * One session ({@code NNsight.session}) on the thread that runs it: the native memory its body and its
 * traces make is freed when it ends, except its result and the values saved in it, by its body or in its
 * traces ({@code NNsight.save}), which outlive the session as they would outlive a trace.
 */
public final class SessionRun {
    private final TraceMemory memory = new TraceMemory();
    private final List<Object> saved = new ArrayList<>();

    private SessionRun() {}

    /** Runs {@code body} as a session and returns its result. */
    public static <R> R run(Supplier<R> body) {
        SessionRun outer = Running.sessionHere();
        SessionRun session = new SessionRun();
        Running.enter(session);
        session.memory.enterThread();
        try {
            R result = body.get();
            session.memory.keep(result);
            for (Object value : session.saved) {
                session.memory.keep(value);
            }
            if (outer != null) {
                outer.saved.addAll(session.saved);
            }
            return result;
        } finally {
            session.memory.close();
            Running.leave(session);
        }
    }

    /** Keeps {@code value} (and the tensors in it) alive after the session. */
    void save(Object value) {
        saved.add(value);
    }
}
