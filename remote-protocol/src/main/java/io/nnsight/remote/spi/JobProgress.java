package io.nnsight.remote.spi;

import java.util.OptionalLong;
import java.util.function.LongSupplier;

/**
 * Where a running job is, as its executor tells it: whether the job's own code runs now, and when its time limit
 * ends. A server's watchdog reads it to tell a job stuck in its own code past its limit (which holds the model:
 * the server gives up on it) from a job that is merely waiting, in a batch, while its peers' code or the shared
 * forward pass runs (whose deadline its executor moves later by that time).
 *
 * <pre>{@code
 * context.progress().deadline(() -> started + limitNanos);
 * context.progress().enter();
 * try {
 *     runTheJobsCode();
 * } finally {
 *     context.progress().leave();
 * }
 * }</pre>
 *
 * <p>An executor that says nothing leaves the server to its own bound: the job's time limit, times the jobs of its
 * batch, plus a grace period. Thread-safe: the executor writes from the threads that run the job, the watchdog
 * reads from another.
 */
public final class JobProgress {
    private volatile boolean inCode;
    private volatile LongSupplier end;

    /** Progress of a job that has not started. */
    public JobProgress() {
        // set by the executor as the job runs
    }

    /** The job's own code runs from now until {@link #leave()}: its preparation, a body, its encoding. */
    public void enter() {
        inCode = true;
    }

    /** The job's own code stopped running: the model, another job's code, or nothing of the job runs now. */
    public void leave() {
        inCode = false;
    }

    /**
     * Where the job's time limit ends from now on, in {@link System#nanoTime()}'s terms; {@code end} may answer
     * later times as the job waits for others (a deadline the executor extends).
     *
     * @param end the current end of the job's time limit
     */
    public void deadline(LongSupplier end) {
        this.end = end;
    }

    /** Whether the job's own code runs now. */
    public boolean inCode() {
        return inCode;
    }

    /** The {@link System#nanoTime()} at which the job's time limit ends now; empty before the executor said. */
    public OptionalLong end() {
        LongSupplier current = end;
        return current == null ? OptionalLong.empty() : OptionalLong.of(current.getAsLong());
    }
}
