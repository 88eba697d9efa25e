package io.nnsight.remote.spi;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * What an executor knows of the job it runs.
 *
 * @param id the job's id
 * @param timeLimit how long the job's code may run; past it, its loops and methods stop it
 * @param log receives each line the job's code prints ({@code System.out} and {@code System.err})
 * @param progress where the executor says the job is (its code running, its deadline), for the server's watchdog
 */
public record JobContext(String id, Duration timeLimit, Consumer<String> log, JobProgress progress) {
    /** Checks that the progress is there. */
    public JobContext {
        Objects.requireNonNull(progress, "progress");
    }

    /** A context whose progress nobody reads. */
    public JobContext(String id, Duration timeLimit, Consumer<String> log) {
        this(id, timeLimit, log, new JobProgress());
    }
}
