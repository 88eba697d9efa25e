package io.nnsight.server.internal;

import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.remote.spi.JobProgress;
import io.nnsight.server.ModelReplicas;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The calls of a {@link ModelQueue}'s workers to the model's replicas, and what the outcomes do to the jobs: a batch
 * a worker took runs with one call ({@link #run}); each job, of a batch or of a continuous batch ({@link
 * ContinuousFeed}), is completed or failed from its own outcome ({@link #finish}), and a failure that says the model
 * lost its weights retires the model.
 */
final class ReplicaCalls {
    /** The queue's log: a job's failure in the server is the queue's event. */
    private static final Logger LOG = LoggerFactory.getLogger(ModelQueue.class);

    private final ModelQueue queue;
    private final ModelReplicas replicas;
    private final Limits limits;

    ReplicaCalls(ModelQueue queue, ModelReplicas replicas, Limits limits) {
        this.queue = queue;
        this.replicas = replicas;
        this.limits = limits;
    }

    /**
     * The job's request, decompressed; {@code null} if it does not decompress, and the job fails: that was checked at
     * submission, so a failure here is the server's.
     */
    byte[] decompressed(SubmittedJob job, byte[] compressed) {
        try {
            return Compression.decompress(compressed, limits.maxDecompressedRequestBytes());
        } catch (Throwable e) {
            LOG.error("Job {} on model '{}' failed in the server", job.id(), queue.key(), e);
            job.fail("the server failed while running the job: " + e);
            return null;
        }
    }

    /** The context the executor runs {@code job} in, with the progress its watchdog reads. */
    JobContext context(SubmittedJob job, JobProgress progress) {
        return new JobContext(job.id(), limits.timeLimit(), job::log, progress);
    }

    /**
     * Runs a batch a worker took, each job with its compressed request and the progress its watchdog reads: one
     * {@link ModelReplicas#execute} call for one job, one {@link ModelReplicas#executeBatch} call for several (a job
     * whose request does not decompress fails first, without it); records how the batch ran and ends each job from
     * its own outcome. The worker outlives any failure of the call: then every job fails.
     */
    void run(List<SubmittedJob> batch, List<byte[]> compressedRequests, List<JobProgress> progress) {
        List<SubmittedJob> members = new ArrayList<>();
        List<byte[]> requests = new ArrayList<>();
        List<JobContext> contexts = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            SubmittedJob job = batch.get(i);
            byte[] request = decompressed(job, compressedRequests.get(i));
            if (request == null) {
                continue;
            }
            members.add(job);
            requests.add(request);
            contexts.add(context(job, progress.get(i)));
        }
        if (members.isEmpty()) {
            return;
        }
        List<JobOutcome> outcomes;
        BatchReport report;
        try {
            if (members.size() == 1) {
                JobOutcome outcome;
                try {
                    byte[] result = replicas.execute(requests.get(0), contexts.get(0));
                    outcome = result == null ? null : JobOutcome.succeeded(result);
                } catch (JobFailedException e) {
                    outcome = JobOutcome.failed(e);
                }
                outcomes = Collections.singletonList(outcome);
                report = null;
            } else {
                report = replicas.executeBatch(requests, contexts,
                        new BatchLimits(limits.batchRows(), limits.batchTokens()));
                outcomes = report == null ? null : report.outcomes();
                if (outcomes == null || outcomes.size() != members.size()) {
                    throw new IllegalStateException("the executor returned " + (outcomes == null ? "no" : outcomes.size())
                            + " outcomes for a batch of " + members.size() + " jobs");
                }
            }
        } catch (Throwable e) { // the worker must outlive any failure, errors included
            for (SubmittedJob job : members) {
                if (!job.terminal()) {
                    LOG.error("Job {} on model '{}' failed in the server", job.id(), queue.key(), e);
                }
                job.fail("the server failed while running the job: " + e);
            }
            return;
        }
        if (report == null) {
            queue.record(batch.size(), List.of(), 1, 0, 0);
        } else {
            queue.record(batch.size(), report.forwards(), report.solo(), report.evicted(), report.reruns());
        }
        for (int i = 0; i < members.size(); i++) {
            finish(members.get(i), outcomes.get(i));
        }
    }

    /** Completes or fails one job from its outcome ({@code null}: the executor returned no result). */
    void finish(SubmittedJob job, JobOutcome outcome) {
        if (outcome == null || (outcome.failure() == null && outcome.result() == null)) {
            job.fail("the server failed while running the job: " + new IllegalStateException("the executor returned no result"));
            return;
        }
        JobFailedException failure = outcome.failure();
        if (failure != null) {
            if (failure.modelUnusable()) { // before the job's client hears of it, so its next job finds the model retired
                queue.retire(failure.getMessage());
            }
            job.fail(failure.getMessage() == null ? "the job failed (" + failure + ")" : failure.getMessage());
            return;
        }
        byte[] result = outcome.result();
        if (result.length > limits.maxResultBytes()) {
            job.fail("result too large: " + result.length + " bytes, limit " + limits.maxResultBytes());
            return;
        }
        if (!job.complete(Compression.compress(result), result.length)) {
            LOG.debug("Job {} on model '{}' returned after it had ended; its result is dropped", job.id(), queue.key());
        }
    }
}
