package io.nnsight.remote.internal.sandbox;

import java.time.Duration;

/**
 * Thrown by {@link Deadline#check()} in a job's code once the job has run past its time limit.
 *
 * <p>An {@link Error}, not an exception, so that the usual {@code catch (Exception e)} of intervention code
 * lets it through. Code that catches {@code Throwable} can still catch it, once: the next deadline check, at the
 * next loop iteration or method call, throws it again.
 */
public final class DeadlineExceededError extends Error {
    private static final long serialVersionUID = 1L;

    DeadlineExceededError(Duration limit) {
        super("the job ran past its time limit of " + format(limit));
    }

    /** {@code 30 s}, {@code 1.5 s}, {@code 250 ms}. */
    private static String format(Duration limit) {
        if (limit.compareTo(Duration.ofSeconds(1)) < 0) {
            return limit.toMillis() + " ms";
        }
        return limit.toMillis() % 1000 == 0 ? limit.toSeconds() + " s" : limit.toMillis() / 1000.0 + " s";
    }
}
