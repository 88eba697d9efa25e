package io.nnsight;

/**
 * An invoke asked for a value the forward pass had already gone past.
 *
 * <p>Inside one invoke, modules must be read in the order the model runs them: the body is suspended
 * until the requested module runs, so asking for {@code layer1} after {@code layer2} would wait for a
 * call that already happened. The message names both the module that was asked for and the module the
 * run had reached. To read modules in another order, read them in separate invokes (an invoke with no
 * input sees the whole batch).
 *
 * <pre>{@code
 * model.trace(x, tr -> {
 *     Tensor second = model.get("layer2").output();
 *     Tensor first = model.get("layer1").output();   // throws OutOfOrderException
 *     ...
 * });
 * }</pre>
 */
public class OutOfOrderException extends TraceException {
    private static final long serialVersionUID = 1L;

    /** An error naming the requested value and where the run was. */
    public OutOfOrderException(String message) {
        super(message);
    }
}
