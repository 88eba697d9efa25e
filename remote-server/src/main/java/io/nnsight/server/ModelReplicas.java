package io.nnsight.server;

import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import java.util.List;
import java.util.Map;

/**
 * Copies of a hosted model in other processes (on the nodes of a cluster) that run its jobs, several at once: what
 * a {@link ModelServer} hands a model's jobs to when it is given replicas ({@link
 * ModelServer.Builder#replicated}) instead of a model in its own JVM. The server keeps the front end (API keys,
 * limits, queues, status streams, results); the replicas run the jobs, each in its own sandbox as a server does.
 *
 * <p>{@code io.nnsight.server.ray.RayHost} ({@code nnsight-remote-ray}, a {@link ReplicaHost}) hosts replicas as Ray
 * actors; {@code nnsight serve --ray} uses it.
 *
 * <p><b>Contract.</b> The server calls {@link #execute} from up to {@link #capacity()} threads at once, each job
 * once. An implementation picks a replica, runs the job there within the job's time limit and returns its result,
 * or throws {@link JobFailedException} with a message for the user. It must return or throw within the time limit
 * plus a short grace (abandoning a replica that does not answer), so that no job is left waiting. A replica that
 * dies while it runs a job: the job may be run again on another replica at most once, and only if it cannot have
 * returned its result (nothing runs twice unseen).
 */
public interface ModelReplicas extends AutoCloseable {
    /** How many jobs may run at once (typically one per replica). */
    int capacity();

    /**
     * Runs one job on a replica.
     *
     * @param request the request payload, decompressed
     * @param context the job's id, time limit and log (lines the job printed may arrive when it ends)
     * @return the result payload, not compressed
     * @throws JobFailedException when the job fails, or no replica could run it; the message is for the user
     */
    byte[] execute(byte[] request, JobContext context) throws JobFailedException;

    /** One entry per replica for the server's {@code /status}: where it runs, its state and load. */
    List<Map<String, Object>> status();

    /** Stops the replicas; calling it again does nothing. */
    @Override
    void close();
}
