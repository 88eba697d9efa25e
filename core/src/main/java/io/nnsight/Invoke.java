package io.nnsight;

import io.nnsight.internal.TraceRun;

/**
 * The handle of one {@linkplain Tracer#invoke(Object, java.util.function.Supplier) invoke}: its result, what
 * its body returned. It is readable once the trace has returned, and inside the body of another invoke of the
 * same trace, where {@link #get()} waits until this invoke's body has returned: how a value passes from one
 * invoke to another (activation patching), like a variable shared between nnsight's invokes.
 *
 * <pre>{@code
 * Tensor patched = model.trace(tr -> {
 *     Invoke<Tensor> clean = tr.invoke(cleanInput, () -> model.get("layers.2").output().clone());
 *     Invoke<Tensor> corrupted = tr.invoke(corruptedInput, () -> {
 *         model.get("layers.2").output().copy_(clean.get());   // the clean invoke returned at layers.2
 *         return model.get("head").output();
 *     });
 *     return corrupted;
 * }).get();
 * }</pre>
 *
 * <p>At each module the model serves the invokes in their order, so a value an earlier invoke returns at a
 * module is there when a later one reads it at the same module. A body that waits in {@code get()} before its
 * first module request waits until the other invoke's body returns, and continues from there: its requests of
 * modules the model has passed meanwhile fail as out of order. Waiting for an invoke that never returns fails
 * when the run ends, naming both.
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
     * The value the invoke's body returned ({@code null} for a body without result); inside another invoke's
     * body, waits until this invoke's body has returned.
     *
     * @throws IllegalStateException before the trace has returned, outside the bodies of its invokes
     */
    @SuppressWarnings("unchecked")
    public R get() {
        return invocation == null ? value : (R) invocation.result();
    }
}
