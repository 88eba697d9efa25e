package io.nnsight.spi;

import io.nnsight.Inputs;

/**
 * Runs a wrapped model during a trace: once on the batched inputs, as a plain trace does, or several times,
 * as a language model's generation runs one forward pass per step. Each call of a module is an iteration
 * of it, so a body's {@code tr.all()} loop sees one iteration per step.
 *
 * <pre>{@code
 * ModelRunner generate = (batched, control) -> {
 *     Object out = null;
 *     for (int step = 0; step < steps; step++) {
 *         out = model.forward(nextInputs(batched, out));
 *     }
 *     control.endSteps();   // the bodies' tr.all() loops end here
 *     return out;
 * };
 * }</pre>
 *
 * <p>Wrappers of particular kinds of models use it ({@code NNsight}'s protected {@code trace(input, body,
 * runner)}); users of a wrapper never see it.
 */
@FunctionalInterface
public interface ModelRunner {
    /**
     * Runs the model.
     *
     * @param batched the trace's inputs, batched over its invokes
     * @param control tells the trace about the run
     * @return the model's result (the root module's output of the last pass)
     */
    Object run(Inputs batched, Control control);

    /** What a runner tells the trace while it runs. */
    interface Control {
        /**
         * Says that the runner starts no further step: a body waiting for the next iteration ({@code tr.all()},
         * {@code tr.next()}) ends its loop now, and can still read what the runner calls after this (a
         * generator's final output). Called on the model's thread, between module calls.
         */
        void endSteps();
    }
}
