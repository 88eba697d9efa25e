package io.nnsight.spi;

/**
 * Per-trace state that must be in force on whichever thread runs a trace's code, while it runs: how several
 * traces sharing one forward pass ({@link TraceBatch}) keep, say, their own deadline and output streams.
 *
 * <p>{@link #enter()} is called just before a trace's code runs (its set-up body, or one of its bodies
 * resuming after a request was served) and {@link #leave(Object)} just after it stops (the body asks the model
 * for a value, or returns, or throws), on the same thread, with what {@code enter} returned. The calls are
 * always paired and never nested for one trace, whatever the engine runs the body: a thread of its own, a
 * continuation or a state machine on the model's thread. Between a {@code leave} and the next {@code enter},
 * other traces' code or the model runs on that thread.
 *
 * <pre>{@code
 * BodyContext context = new BodyContext() {
 *     public Object enter() { Object previous = CURRENT.get(); CURRENT.set(job); return previous; }
 *     public void leave(Object previous) { CURRENT.set(previous); }
 * };
 * }</pre>
 *
 * <p>Both must be quick and must not throw: they run at every suspension of every body.
 */
public interface BodyContext {
    /** Does nothing. */
    BodyContext NONE = new BodyContext() {
        @Override
        public Object enter() {
            return null;
        }

        @Override
        public void leave(Object previous) {}
    };

    /**
     * Puts the trace's state in force on the calling thread.
     *
     * @return whatever {@link #leave} needs to restore the state that was in force before
     */
    Object enter();

    /**
     * Restores what was in force before the matching {@link #enter()}.
     *
     * @param previous what that {@code enter()} returned
     */
    void leave(Object previous);
}
