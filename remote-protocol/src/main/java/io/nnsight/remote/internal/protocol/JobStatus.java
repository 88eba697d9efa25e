package io.nnsight.remote.internal.protocol;

/**
 * Where a job is, as a server reports it: {@code RECEIVED}, then {@code QUEUED} (again each time its place
 * in the queue changes), {@code RUNNING} with any number of {@code LOG} lines, and finally {@code COMPLETED}
 * or {@code ERROR}.
 */
public enum JobStatus {
    /** The server accepted the request; the answer to {@code POST /request}. */
    RECEIVED,
    /** Waiting for the model; {@link StatusMessage#position()} jobs run before it (0 = next). */
    QUEUED,
    /** The job's code is running on the model. */
    RUNNING,
    /** A line the job's code printed, in {@link StatusMessage#description()}; the job is still running. */
    LOG,
    /** Finished; the result ({@link StatusMessage#size()} bytes) can be downloaded once. */
    COMPLETED,
    /** Failed or refused; the reason is in {@link StatusMessage#description()}. */
    ERROR;

    /** Whether no status follows this one: {@link #COMPLETED} or {@link #ERROR}. */
    public boolean terminal() {
        return this == COMPLETED || this == ERROR;
    }
}
