package io.nnsight.remote.spi;

/**
 * A job that could not run, or whose code failed: the message says why, for the user who sent it. When
 * {@link #modelUnusable()}, the model itself can serve no more jobs (its weights could not be restored after
 * a job changed them), and the server must stop offering it.
 */
public final class JobFailedException extends Exception {
    private static final long serialVersionUID = 1L;

    private final boolean modelUnusable;

    /** A failure that {@code message} explains to the user who sent the job. */
    public JobFailedException(String message) {
        this(message, null, false);
    }

    /** A failure that {@code message} explains, caused by {@code cause}. */
    public JobFailedException(String message, Throwable cause) {
        this(message, cause, false);
    }

    private JobFailedException(String message, Throwable cause, boolean modelUnusable) {
        super(message, cause);
        this.modelUnusable = modelUnusable;
    }

    /** The failure of a job after which the model can serve no more jobs. */
    public static JobFailedException unusableModel(String message, Throwable cause) {
        return new JobFailedException(message, cause, true);
    }

    /** Whether the model can serve no more jobs. */
    public boolean modelUnusable() {
        return modelUnusable;
    }
}
