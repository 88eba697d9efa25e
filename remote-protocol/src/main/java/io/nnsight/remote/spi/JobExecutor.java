package io.nnsight.remote.spi;

import io.nnsight.NNsight;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the request payload of one job on a hosted model: checks and defines the shipped classes, rebuilds
 * the body and its values, runs the trace, and encodes the result. The server calls it on the model's
 * worker thread, one job at a time per model; {@code Remote.local()} calls it in the client's JVM.
 */
public interface JobExecutor {
    /** How many bytes of a request's start, decompressed, {@link #joinsContinuously} is given to tell its kind. */
    int HEADER_BYTES = 64;

    /**
     * Runs one job.
     *
     * @param model the hosted model the job names
     * @param request the request payload, decompressed
     * @param context the job's id, time limit and log
     * @return the result payload, not compressed
     * @throws JobFailedException when the job cannot run or its code fails; the message is for the user
     */
    byte[] execute(NNsight model, byte[] request, JobContext context) throws JobFailedException;

    /**
     * Runs several jobs of one model, each as {@link #execute} runs it alone, in any order, possibly together
     * (an executor may run compatible traces in one forward pass). Each job's lines go to its own log only.
     * This one runs them one after another with {@code execute}.
     *
     * @param model the hosted model the jobs name
     * @param requests the request payloads, decompressed
     * @param contexts each job's id, time limit and log, in the order of {@code requests}
     * @param limits how large each forward pass may be, for an executor that runs jobs together
     * @return each job's outcome, in the order of {@code requests}, and how the jobs ran
     */
    default BatchReport executeBatch(NNsight model, List<byte[]> requests, List<JobContext> contexts,
            BatchLimits limits) {
        if (requests.size() != contexts.size()) {
            throw new IllegalArgumentException(requests.size() + " requests but " + contexts.size() + " contexts");
        }
        List<JobOutcome> outcomes = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            try {
                outcomes.add(JobOutcome.succeeded(execute(model, requests.get(i), contexts.get(i))));
            } catch (JobFailedException e) {
                outcomes.add(JobOutcome.failed(e));
            }
        }
        return BatchReport.oneAtATime(outcomes);
    }

    /**
     * Whether {@link #executeContinuous} runs {@code request} in a continuous batch of {@code model}'s jobs (a
     * generation, which joins and leaves at step boundaries), rather than alone. This one says no.
     *
     * @param header the start of the request payload, decompressed: its first {@link #HEADER_BYTES} bytes (all of it
     *     if shorter), which hold its kind of job
     */
    default boolean joinsContinuously(NNsight model, byte[] header) {
        return false;
    }

    /**
     * Runs the jobs {@code feed} gives, each as {@link #execute} runs it alone, until it gives none: an executor may
     * run generations as one continuous batch, each joining at a step boundary and leaving when done, its outcome
     * handed to the feed at once. Each job's lines go to its own log only. This one runs them one after another with
     * {@code execute}.
     *
     * @param model the hosted model the jobs name
     */
    default void executeContinuous(NNsight model, JobFeed feed) {
        for (List<JobFeed.Job> jobs = feed.take(0); !jobs.isEmpty(); jobs = feed.take(0)) {
            for (JobFeed.Job job : jobs) {
                JobOutcome outcome;
                try {
                    outcome = JobOutcome.succeeded(execute(model, job.request(), job.context()));
                } catch (JobFailedException e) {
                    outcome = JobOutcome.failed(e);
                }
                feed.finished(job, outcome);
            }
        }
    }
}
