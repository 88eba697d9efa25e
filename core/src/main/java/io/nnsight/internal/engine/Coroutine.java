package io.nnsight.internal.engine;

/**
 * One body running as a coroutine; see {@link Engine}.
 */
public interface Coroutine {
    /**
     * Model side: hands {@code reply} to the body (the return value of its pending {@link #suspend}; ignored
     * on the first call, which starts the body) and waits until the body suspends again or ends.
     *
     * @return the signal the body suspended with, or the body's return value when it ended
     */
    Object resume(Object reply);

    /**
     * Body side: hands {@code signal} to the model side and waits for the reply of the next {@link
     * #resume}.
     */
    Object suspend(Object signal);

    /** The {@link Engine#name()} of the engine that runs the body. */
    String engine();

    /** Whether the body has returned. */
    boolean isDone();

    /** Whether the caller is running inside this coroutine's body. */
    boolean isCurrent();

    /**
     * Releases what the coroutine holds once its body has ended (the thread engine waits for the thread to
     * terminate). A coroutine that was never resumed holds nothing.
     *
     * @throws IllegalStateException when the body was started and has not ended
     */
    void close();
}
