package io.nnsight;

import io.nnsight.internal.TraceRun;

/**
 * The handle of one {@linkplain Tracer#invoke(Object, java.util.function.Supplier) invoke}: its result,
 * readable once the trace has returned.
 *
 * <pre>{@code
 * Invoke<Tensor> clean = model.trace(tr -> tr.invoke(x, () -> model.get("head").output()));
 * Tensor logits = clean.get();
 * }</pre>
 *
 * @param <R> the type of the invoke body's result
 */
public final class Invoke<R> {
    private final TraceRun.Invocation invocation;
    private final R value;

    Invoke(TraceRun.Invocation invocation) {
        this.invocation = invocation;
        this.value = null;
    }

    private Invoke(R value) {
        this.invocation = null;
        this.value = value;
    }

    /** The handle of an invoke that ran elsewhere (on a model server) and returned {@code value}. */
    public static <R> Invoke<R> completed(R value) {
        return new Invoke<>(value);
    }

    /**
     * The value the invoke's body returned ({@code null} for a body without result).
     *
     * @throws IllegalStateException before the trace has returned
     */
    @SuppressWarnings("unchecked")
    public R get() {
        return invocation == null ? value : (R) invocation.result();
    }
}
