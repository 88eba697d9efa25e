package io.nnsight;

/**
 * An intervention asked for something the run cannot give: the base of the errors the tracing engine
 * raises about a trace's own logic, as opposed to errors of the model or of the user's code, which reach
 * the caller of {@link NNsight#trace} unchanged.
 *
 * <p>Examples: an {@link Envoy#skip skip} that only some invokes apply, an invoke opened inside another
 * invoke, a {@link Barrier} that not all its participants reached. The two most common cases have their
 * own types: {@link OutOfOrderException} and {@link NotReachedException}.
 */
public class TraceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** An error with a message that says what was wrong and what to do. */
    public TraceException(String message) {
        super(message);
    }
}
