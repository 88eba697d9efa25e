package io.nnsight;

/**
 * An invoke was still waiting for a value when the run ended: the requested module (or the requested
 * call of it) never ran.
 *
 * <p>Typical causes: a module that the model's forward does not call, an iteration beyond the number of
 * times the module ran, a request made after {@link Tracer#stop()}, or a module whose calls the tracing
 * engine cannot see (a native libtorch module, which needs the nnsight agent or a bridge building block).
 * The message names the request and says how often the module ran.
 */
public class NotReachedException extends TraceException {
    private static final long serialVersionUID = 1L;

    /** An error naming the request that was never served and why. */
    public NotReachedException(String message) {
        super(message);
    }
}
