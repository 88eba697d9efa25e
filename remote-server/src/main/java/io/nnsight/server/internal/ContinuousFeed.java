package io.nnsight.server.internal;

import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a continuous batch of a {@link ModelQueue} takes its jobs from and gives their outcomes to: it hands over the
 * oldest waiting generations at each step boundary ({@link ModelQueue#startContinuing}), and completes or fails each
 * job as soon as its outcome arrives. Each job counts as running, watched by a {@link Watchdog} of its own, until
 * then.
 */
final class ContinuousFeed implements JobFeed {
    private final ModelQueue queue;
    private final ReplicaCalls calls;
    private final int epochSteps;
    private final BatchLimits limits;
    private final Map<JobFeed.Job, SubmittedJob> jobs = new IdentityHashMap<>();
    /** Each job's watchdog: a batch of one, from when it joined. */
    private final Map<JobFeed.Job, Watchdog> watchdogs = new IdentityHashMap<>();

    /**
     * A feed of {@code queue}'s generations, whose outcomes {@code calls} turn into the jobs' ends, for a batch of
     * epochs of at most {@code epochSteps} passes within {@code limits}.
     */
    ContinuousFeed(ModelQueue queue, ReplicaCalls calls, int epochSteps, BatchLimits limits) {
        this.queue = queue;
        this.calls = calls;
        this.epochSteps = epochSteps;
        this.limits = limits;
    }

    @Override
    public List<JobFeed.Job> take(int running) {
        List<JobFeed.Job> fed = new ArrayList<>();
        for (ModelQueue.Started started : queue.startContinuing(running)) {
            SubmittedJob job = started.job();
            byte[] request = calls.decompressed(job, started.request());
            if (request == null) {
                queue.ended(job, started.watchdog());
                continue;
            }
            JobFeed.Job entry = new JobFeed.Job(request, calls.context(job, started.watchdog().progress().get(0)));
            jobs.put(entry, job);
            watchdogs.put(entry, started.watchdog());
            fed.add(entry);
        }
        return fed;
    }

    @Override
    public void finished(JobFeed.Job entry, JobOutcome outcome) {
        SubmittedJob job = jobs.remove(entry);
        if (job == null) {
            return; // not one of ours, or answered already
        }
        // before its client hears of it: its next job finds the key's quota free again
        queue.ended(job, watchdogs.remove(entry));
        calls.finish(job, outcome);
    }

    /** Records the step for {@code /status}, as a batch of its jobs in one forward pass. */
    @Override
    public void stepped(BatchReport.Forward step) {
        queue.record(step.jobs(), List.of(step), 0, 0, 0);
    }

    /** Counts, for {@code /status}, the jobs that ran alone. */
    @Override
    public void runsAlone(int solo, int evicted, int reruns) {
        queue.counted(solo, evicted, reruns);
    }

    @Override
    public int epochSteps() {
        return epochSteps;
    }

    @Override
    public BatchLimits limits() {
        return limits;
    }

    /** Fails every job taken and not yet answered. */
    void failUnfinished(String why) {
        for (Map.Entry<JobFeed.Job, SubmittedJob> entry : jobs.entrySet()) {
            entry.getValue().fail(why);
            queue.ended(entry.getValue(), watchdogs.remove(entry.getKey()));
        }
        jobs.clear();
    }
}
