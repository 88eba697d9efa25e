package io.nnsight;

import java.io.Serializable;

/**
 * The code of a {@linkplain NNsight#session(SessionBody) session}: several traces of a model, with values
 * passed from one to the next as ordinary Java variables.
 *
 * @param <R> the type of the session's result
 */
@FunctionalInterface
public interface SessionBody<R> extends Serializable {
    /** Runs the session's traces and returns its result (tensors in it stay valid after the session). */
    R run();
}
