package io.nnsight;

import java.io.Serializable;

/**
 * The code of a trace: it runs interleaved with the model's forward pass and returns the trace's result.
 *
 * <p>It is {@link Serializable} so that a trace can run on a model server ({@link Backend}): a lambda
 * written for this interface can be shipped, with the values it captures, by value. Locally this costs
 * nothing.
 *
 * @param <R> the type of the result
 */
@FunctionalInterface
public interface TraceBody<R> extends Serializable {
    /**
     * Runs the intervention.
     *
     * @param tracer opens invokes, barriers and iteration loops, and stops the run
     * @return the trace's result (tensors in it stay valid after the trace); {@code null} when the body
     *     only edits the model's activations
     */
    R run(Tracer tracer);
}
