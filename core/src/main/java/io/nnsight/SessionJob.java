package io.nnsight;

import java.util.Objects;

/**
 * A session as a {@link Job}: {@code model.session(body)}, several traces in one run.
 *
 * @param model the model, running here
 * @param body the session's code
 * @param <R> the type of its result
 */
public record SessionJob<R>(NNsight model, SessionBody<R> body) implements Job<R> {
    public SessionJob {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(body, "body");
    }

    @Override
    public R run() {
        return model.session(body);
    }
}
