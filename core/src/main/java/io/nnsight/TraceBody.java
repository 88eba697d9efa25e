package io.nnsight;

/**
 * The code of a trace: it runs interleaved with the model's forward pass and returns the trace's result.
 *
 * @param <R> the type of the result
 */
@FunctionalInterface
public interface TraceBody<R> {
    /**
     * Runs the intervention.
     *
     * @param tracer opens invokes, barriers and iteration loops, and stops the run
     * @return the trace's result (tensors in it stay valid after the trace); {@code null} when the body
     *     only edits the model's activations
     */
    R run(Tracer tracer);
}
