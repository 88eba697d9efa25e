package io.nnsight;

import java.util.Objects;

/**
 * A trace as a {@link Job}: {@code model.trace(input, body)}, or {@code model.trace(body)} when the input is
 * {@code null} (the body's invokes give the inputs).
 *
 * @param model the model, running here
 * @param input the input, or {@code null} for a trace of invokes
 * @param body the intervention
 * @param <R> the type of its result
 */
public record TraceJob<R>(NNsight model, Object input, TraceBody<R> body) implements Job<R> {
    public TraceJob {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(body, "body");
    }

    @Override
    public R run() {
        return input == null ? model.trace(body) : model.trace(input, body);
    }
}
