package io.nnsight.internal;

import java.util.function.Supplier;

/** What the model side can answer a suspended body besides a value. */
final class Reply {
    /** Done; nothing to return. */
    static final Object ACK = new Object();

    /** The trace is being torn down: the body must unwind. */
    static final Object CANCEL = new Object();

    private Reply() {}

    /**
     * An error the body must throw. The exception is made on the body's side, so its stack trace shows
     * the body's own line.
     */
    record Fault(Supplier<RuntimeException> error) {}

    /**
     * Thrown inside a body when its trace is torn down: an {@code Error}, so that the body's own {@code
     * catch (Exception e)} blocks let it pass.
     */
    static final class Cancellation extends Error {
        private static final long serialVersionUID = 1L;

        Cancellation() {
            super("the trace was torn down", null, false, false);
        }
    }
}
