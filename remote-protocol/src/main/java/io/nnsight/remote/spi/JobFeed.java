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
     * Called on the executor's thread, and not while a job taken earlier still waits for room ({@link #limits()}).
     *
     * @param running how many jobs of the batch are running now
     */
    List<Job> take(int running);

    /** {@code job}'s outcome, final: called once per job taken, on the executor's thread. */
    void finished(Job job, JobOutcome outcome);

    /**
     * A step of the batch ran, on the executor's thread: a forward pass of {@code step.jobs()} jobs, {@code
     * step.rows()} rows and {@code step.tokens()} tokens (a job's first step runs its prompt, its rows times their
     * padded length; each later one a token per row). For statistics (a model server's {@code /status}); nothing by
     * default.
     */
    default void stepped(BatchReport.Forward step) {}

    /**
     * Jobs of the batch run alone once their epoch ended, told on the executor's thread before they run: {@code
     * solo} that never joined it (not plain generations, code that can use autograd, ...) and {@code reruns} that run
     * again after their batched attempt, {@code evicted} of these because they were evicted (the others because the
     * weights changed or the forward pass failed), as a {@link BatchReport} counts them. For statistics; nothing by
     * default.
     */
    default void runsAlone(int solo, int evicted, int reruns) {}

    /**
     * How many forward passes one <em>epoch</em> of the batch admits jobs for: the native memory of a continuous
     * batch is freed when its epoch ends, so an executor stops admitting jobs after this many passes, lets the
     * running ones finish, frees the epoch's memory and starts the next. Bounds how much memory one batch holds (a
     * model server's {@code --batch-epoch-steps}); 256 unless the feed says otherwise.
     */
    default int epochSteps() {
        return DEFAULT_EPOCH_STEPS;
    }

    /** What {@link #epochSteps()} gives unless a feed says otherwise. */
    int DEFAULT_EPOCH_STEPS = 256;

    /**
     * How large the batch's forward passes may be: the running jobs hold at most {@link BatchLimits#rows()} rows
     * together (a generation of several prompts holds one per prompt), and the jobs that join at one step boundary,
     * whose prompts run in that step, at most {@link BatchLimits#tokens()} tokens (their rows times their padded
     * prompt length); each later step adds one token per row. A taken job that does not fit waits, its time limit not
     * yet running, and joins at a later boundary (or the next epoch's first), before any job taken after it; one that
     * exceeds a limit on its own joins once no job runs. A model server's {@code --batch-rows} and {@code
     * --batch-tokens}; {@link BatchLimits#DEFAULT} unless the feed says otherwise.
     */
    default BatchLimits limits() {
        return BatchLimits.DEFAULT;
    }
}
