package io.nnsight;

/**
 * Where a trace, a generation or a session runs. Without a backend it runs here, in this JVM; a wrapper's
 * view {@link NNsight#on(Backend) model.on(backend)} runs them on the backend instead. {@code
 * io.nnsight.remote.Remote} is the backend of a model server that hosts the model: the same code, the same
 * result.
 *
 * <pre>{@code
 * Tensor logits = lm.on(Remote.on("http://localhost:8642")).trace("Hello", tr -> lm.get("lm_head").output());
 * }</pre>
 */
public interface Backend {
    /**
     * Runs {@code job} and returns its result: ships it where it runs and calls {@link Job#run()} there (a
     * backend that runs jobs in this JVM simply returns {@code job.run()}).
     *
     * @throws TraceException (or the body's own exception) when the job fails
     */
    <R> R run(Job<R> job);
}
