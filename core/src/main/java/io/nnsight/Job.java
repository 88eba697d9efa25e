package io.nnsight;

/**
 * One run of a model that a {@link Backend} carries out: a {@link TraceJob trace}, a {@link SessionJob session},
 * or a language model's generation ({@code io.nnsight.lm.GenerateJob}), with everything it needs. A backend
 * ships it somewhere and calls {@link #run()} there, on the model it finds under the same {@linkplain
 * NNsight#key() key}.
 *
 * <pre>{@code
 * Tensor logits = lm.on(server).trace("Hello", tr -> lm.get("lm_head").output());   // a TraceJob, run on server
 * }</pre>
 *
 * @param <R> the type of its result
 */
public interface Job<R> {
    /** The model it runs on: a wrapper that runs here, in this JVM (never a {@linkplain NNsight#on view}). */
    NNsight model();

    /** Runs it here, on {@link #model()}, and returns its result. */
    R run();
}
