/**
 * How a model server runs a job: the interface between the HTTP service, which receives, queues and answers
 * jobs, and the executor that runs one.
 *
 * <pre>{@code
 * ModelServer server = ModelServer.builder()
 *         .model("stories260K", lm)
 *         .executor(new SandboxedExecutor())   // the default; another executor only for code you trust
 *         .apiKeys(Set.of(key))
 *         .start();
 * }</pre>
 *
 * <ul>
 *   <li>{@link io.nnsight.remote.spi.JobExecutor}: runs one request (its decompressed payload) on a hosted
 *       model and returns the result payload. The server calls it on the model's worker thread, one job at a
 *       time per model.
 *   <li>{@link io.nnsight.remote.spi.JobContext}: what the server tells the executor about the job: its id, its
 *       time limit, and where the lines the job prints go.
 *   <li>{@link io.nnsight.remote.spi.JobFailedException}: a job that could not run or whose code failed; its
 *       message reaches the user who sent the job, so it must say what went wrong in their terms.
 *   <li>{@link io.nnsight.remote.spi.JobOutcome}: one job's result or failure, for {@code
 *       JobExecutor.executeBatch}, which runs several jobs of one model (by default one after another).
 *   <li>{@link io.nnsight.remote.spi.JobFeed}: where the jobs of {@code JobExecutor.executeContinuous} come from
 *       and where each one's outcome goes as soon as it is final: generations that join and leave one continuous
 *       batch (by default each runs alone).
 * </ul>
 *
 * <p>The sandbox's {@code SandboxedExecutor} (module {@code nnsight-remote-sandbox}) is the executor a server
 * exposed to strangers must use; {@code Remote.local()} finds it as a service of this interface.
 */
package io.nnsight.remote.spi;
