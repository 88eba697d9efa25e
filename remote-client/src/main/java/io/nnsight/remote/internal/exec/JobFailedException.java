package io.nnsight.remote.internal.exec;

/** A job that could not run, or whose code failed: the message says why, for the user who sent it. */
public final class JobFailedException extends Exception {
    private static final long serialVersionUID = 1L;

    public JobFailedException(String message) {
        super(message);
    }

    public JobFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
