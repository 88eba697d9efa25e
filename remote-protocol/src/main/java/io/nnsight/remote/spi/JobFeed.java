package io.nnsight.remote.spi;

import java.util.List;
import java.util.Objects;

/**
 * Where the jobs of a continuous batch come from and where their outcomes go ({@link
 * JobExecutor#executeContinuous}): the executor asks for jobs at each step boundary and hands each job's outcome
 * back as soon as it is final, so a short generation is answered while longer ones go on. A model server's queue is
 * one: it hands over queued generations, oldest first, and completes each job when its outcome arrives.
 */
public interface JobFeed {
    /**
     * A job of the batch.
     *
     * @param request the request payload, decompressed
     * @param context the job's id, time limit and log
     */
    record Job(byte[] request, JobContext context) {
        /** Checks the arguments. */
        public Job {
            Objects.requireNonNull(request, "request");
            Objects.requireNonNull(context, "context");
        }
    }

    /**
     * The jobs to join now, oldest first; an empty list when none waits (once none runs either, the batch ends).
     * Called on the executor's thread.
     *
     * @param running how many jobs of the batch are running now
     */
    List<Job> take(int running);

    /** {@code job}'s outcome, final: called once per job taken, on the executor's thread. */
    void finished(Job job, JobOutcome outcome);
}
