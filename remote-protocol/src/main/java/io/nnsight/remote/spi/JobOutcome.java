package io.nnsight.remote.spi;

import java.util.Objects;

/**
 * What became of one job of a batch ({@link JobExecutor#executeBatch}): its result payload, or why it failed.
 * Exactly one of the two is set.
 *
 * @param result the result payload, not compressed; {@code null} when the job failed
 * @param failure why the job failed, as {@link JobExecutor#execute} would have thrown it; {@code null} when it
 *     succeeded
 */
public record JobOutcome(byte[] result, JobFailedException failure) {
    /** Checks that exactly one of the two is set. */
    public JobOutcome {
        if ((result == null) == (failure == null)) {
            throw new IllegalArgumentException("a job's outcome is a result or a failure, exactly one of them");
        }
    }

    /** A job that gave {@code result}. */
    public static JobOutcome succeeded(byte[] result) {
        return new JobOutcome(Objects.requireNonNull(result, "result"), null);
    }

    /** A job that failed with {@code failure}. */
    public static JobOutcome failed(JobFailedException failure) {
        return new JobOutcome(null, Objects.requireNonNull(failure, "failure"));
    }

    /**
     * The result payload, as {@link JobExecutor#execute} returns it.
     *
     * @throws JobFailedException the failure, as {@code execute} throws it
     */
    public byte[] get() throws JobFailedException {
        if (failure != null) {
            throw failure;
        }
        return result;
    }
}
