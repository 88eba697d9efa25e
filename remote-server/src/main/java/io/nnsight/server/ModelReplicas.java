package io.nnsight.server;

import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import java.util.ArrayList;
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
 * once (or, when {@link #batches()} says so, {@link #executeBatch} with several jobs, each counting as one call of
 * {@code execute}). An implementation picks a replica, runs the job there within the job's time limit and returns its result,
 * or throws {@link JobFailedException} with a message for the user. It must return or throw within the time limit
 * plus a grace shorter than the server's {@linkplain ModelServer.Builder#stopGrace grace for a stuck batch}
 * (abandoning a replica that does not answer), so that no job is left waiting and the server does not give up on
 * the whole model. A replica that dies while it runs a job: the job may be run again on another replica at most
 * once, and only if it cannot have returned its result (nothing runs twice unseen).
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

    /**
     * Runs several jobs of one queue together, when their replica can batch them (a model in the server's JVM runs
     * them as one forward pass). The server calls it, instead of {@link #execute}, with the jobs it took together;
     * the default runs them one after the other with {@link #execute}, so replicas that run one job at a time need
     * not override it. Each job is answered on its own: one failing does not fail the others.
     *
     * @param requests the request payloads, decompressed
     * @param contexts each job's id, time limit and log, in the order of {@code requests}
     * @param limits how large each forward pass may be ({@link ModelServer.Builder#batchRows}, {@link
     *     ModelServer.Builder#batchTokens})
     * @return each job's outcome, in the order of {@code requests}, and how the jobs ran ({@link
     *     BatchReport#oneAtATime} for replicas that run one job at a time)
     */
    default BatchReport executeBatch(List<byte[]> requests, List<JobContext> contexts, BatchLimits limits) {
        if (requests.size() != contexts.size()) {
            throw new IllegalArgumentException(requests.size() + " requests but " + contexts.size() + " contexts");
        }
        List<JobOutcome> outcomes = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            try {
                outcomes.add(JobOutcome.succeeded(execute(requests.get(i), contexts.get(i))));
            } catch (JobFailedException e) {
                outcomes.add(JobOutcome.failed(e));
            }
        }
        return BatchReport.oneAtATime(outcomes);
    }

    /**
     * Whether {@link #executeBatch} runs jobs together (rather than one after the other), so that the server should
     * take several waiting jobs at once; {@code false} by default.
     */
    default boolean batches() {
        return false;
    }

    /**
     * Whether {@link #executeContinuous} runs {@code request} in a continuous batch (a generation that joins and
     * leaves a running batch at step boundaries); {@code false} by default. The server asks once per job, when it
     * is submitted.
     *
     * @param header the start of the request payload, decompressed: its first {@link JobExecutor#HEADER_BYTES} bytes
     *     (all of it if shorter), which hold its kind of job
     */
    default boolean joinsContinuously(byte[] header) {
        return false;
    }

    /**
     * Runs the jobs {@code feed} gives until it gives none, each answered through the feed as soon as its outcome is
     * final: generations share each step's forward pass, joining and leaving between steps ({@link
     * JobExecutor#executeContinuous}). The server calls it when the oldest waiting job {@linkplain #joinsContinuously
     * joins continuously}; the default runs the jobs one after the other with {@link #execute}.
     */
    default void executeContinuous(JobFeed feed) {
        for (List<JobFeed.Job> jobs = feed.take(0); !jobs.isEmpty(); jobs = feed.take(0)) {
            for (JobFeed.Job job : jobs) {
                JobOutcome outcome;
                try {
                    outcome = JobOutcome.succeeded(execute(job.request(), job.context()));
                } catch (JobFailedException e) {
                    outcome = JobOutcome.failed(e);
                }
                feed.finished(job, outcome);
            }
        }
    }

    /** One entry per replica for the server's {@code /status}: where it runs, its state and load. */
    List<Map<String, Object>> status();

    /** Stops the replicas; calling it again does nothing. */
    @Override
    void close();
}
