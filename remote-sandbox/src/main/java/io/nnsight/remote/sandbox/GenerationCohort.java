package io.nnsight.remote.sandbox;

import io.nnsight.NNsight;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The generations of one {@link SandboxedExecutor#executeBatch} call, run as one continuous batch that they all join at
 * its first step (a {@link JobFeed} that hands them all over at once and none after; those that do not fit the call's
 * {@link BatchLimits} join as others leave), after the call's other jobs; it keeps each outcome and the most jobs that
 * ran at once, which the report tells.
 */
final class GenerationCohort implements JobFeed {
    private List<JobFeed.Job> waiting;
    private final BatchLimits limits;
    private final Map<JobFeed.Job, JobOutcome> outcomes = new IdentityHashMap<>();
    private int mostRunning;
    /** Of the generations, how many ran alone without joining, were evicted, and ran again alone. */
    private int solo;
    private int evicted;
    private int reruns;

    private GenerationCohort(List<JobFeed.Job> jobs, BatchLimits limits) {
        this.waiting = jobs;
        this.limits = limits;
    }

    /**
     * Runs the jobs of {@code generations} (indices into {@code requests}, at least two) as one continuous batch, and
     * before them the others as {@code executeBatch} runs them ({@code traces}; one alone).
     */
    static BatchReport run(SandboxedExecutor executor, TraceBatches traces, NNsight model, List<byte[]> requests,
            List<JobContext> contexts, BatchLimits limits, List<Integer> generations) {
        List<Integer> others = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            if (!generations.contains(i)) {
                others.add(i);
            }
        }
        JobOutcome[] outcomes = new JobOutcome[requests.size()];
        List<BatchReport.Forward> forwards = new ArrayList<>();
        int solo = 0;
        int evicted = 0;
        int reruns = 0;
        if (!others.isEmpty()) {
            BatchReport report = others.size() == 1
                    ? BatchReport.oneAtATime(List.of(executor.runAlone(model, requests.get(others.get(0)),
                            contexts.get(others.get(0)))))
                    : traces.run(model, select(requests, others), select(contexts, others), limits);
            for (int i = 0; i < others.size(); i++) {
                outcomes[others.get(i)] = report.outcomes().get(i);
            }
            forwards.addAll(report.forwards());
            solo = report.solo();
            evicted = report.evicted();
            reruns = report.reruns();
        }
        List<JobFeed.Job> joining = new ArrayList<>();
        for (int index : generations) {
            joining.add(new JobFeed.Job(requests.get(index), contexts.get(index)));
        }
        GenerationCohort cohort = new GenerationCohort(joining, limits);
        executor.executeContinuous(model, cohort);
        for (int i = 0; i < generations.size(); i++) {
            JobOutcome outcome = cohort.outcomes.get(joining.get(i));
            outcomes[generations.get(i)] = outcome != null ? outcome : JobOutcome.failed(new JobFailedException(
                    "the continuous batch ended without the job's outcome"));
        }
        if (cohort.mostRunning > 1) {
            forwards.add(new BatchReport.Forward(generations.size() - cohort.solo, cohort.mostRunning,
                    cohort.mostRunning));
            solo += cohort.solo;
            evicted += cohort.evicted;
            reruns += cohort.reruns;
        } else {
            solo += generations.size();
        }
        return new BatchReport(Arrays.asList(outcomes), forwards, solo, evicted, reruns);
    }

    private static <T> List<T> select(List<T> all, List<Integer> indices) {
        return indices.stream().map(all::get).toList();
    }

    @Override
    public List<JobFeed.Job> take(int running) {
        mostRunning = Math.max(mostRunning, running);
        List<JobFeed.Job> joining = waiting;
        waiting = List.of();
        return joining;
    }

    @Override
    public void finished(JobFeed.Job job, JobOutcome outcome) {
        outcomes.put(job, outcome);
    }

    @Override
    public BatchLimits limits() {
        return limits;
    }

    @Override
    public void runsAlone(int alone, int evictedNow, int rerunNow) {
        solo += alone;
        evicted += evictedNow;
        reruns += rerunNow;
    }
}
