package io.nnsight;

/**
 * Where a trace, a generation or a session runs. Without a backend it runs here, in this JVM; {@code
 * io.nnsight.remote.Remote} runs it on a model server that hosts the model, with the same code and the
 * same result:
 *
 * <pre>{@code
 * Tensor logits = lm.trace("Hello", Remote.on("http://localhost:8642"), tr -> lm.get("lm_head").output());
 * }</pre>
 */
public interface Backend {
    /**
     * Runs {@code job} and returns its result.
     *
     * @throws TraceException (or the body's own exception) when the job fails
     */
    <R> R run(Job<R> job);
}
