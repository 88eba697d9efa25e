package io.nnsight.remote.spi;

import java.util.List;
import java.util.Objects;

/**
 * What one {@link JobExecutor#executeBatch} call did: each job's outcome, and how the jobs ran, which a server shows
 * in its {@code /status} (how full its forward passes are, how often jobs had to run again alone).
 *
 * <p>Every job of the call is counted once as either a member of one of the {@link #forwards} or {@link #solo};
 * the members that had to run again alone after their shared pass are counted in {@link #reruns} too (and those
 * that were evicted from it, in {@link #evicted} as well).
 *
 * <pre>{@code
 * BatchReport report = executor.executeBatch(model, requests, contexts, BatchLimits.DEFAULT);
 * for (BatchReport.Forward pass : report.forwards()) {
 *     System.out.println(pass.jobs() + " jobs, " + pass.rows() + " rows, " + pass.tokens() + " tokens");
 * }
 * byte[] first = report.outcomes().get(0).get();
 * }</pre>
 *
 * @param outcomes each job's outcome, in the order of the requests
 * @param forwards the shared forward passes, in the order they ran; empty when every job ran alone
 * @param solo how many jobs ran alone without a shared pass: jobs that cannot share one (not a plain trace, or
 *     refused), or every job of an executor that runs jobs one at a time
 * @param evicted how many members of the shared passes were stopped because they did something that would change
 *     the others' computation (skipped a module, ran a backward pass, ...), and ran again alone; a trace that calls
 *     {@code tr.stop()} is not evicted, it ends within its pass
 * @param reruns how many members of the shared passes ran again alone: the evicted ones, the members of a pass that
 *     failed as a whole, and every member when a job changed the model's weights
 */
public record BatchReport(List<JobOutcome> outcomes, List<Forward> forwards, int solo, int evicted, int reruns) {
    /**
     * One shared forward pass.
     *
     * @param jobs how many jobs it held
     * @param rows how many batch rows, over all its jobs
     * @param tokens how many tokens: the sum over its rows of their padded length
     */
    public record Forward(int jobs, int rows, long tokens) {}

    /** Copies the lists and checks the counts. */
    public BatchReport {
        outcomes = List.copyOf(outcomes);
        forwards = List.copyOf(forwards);
        int members = 0;
        for (Forward forward : forwards) {
            members += forward.jobs();
        }
        if (solo < 0 || evicted < 0 || evicted > reruns || reruns > members || members + solo != outcomes.size()) {
            throw new IllegalArgumentException("a report of " + outcomes.size() + " jobs counts " + members
                    + " in forward passes, " + solo + " solo, " + evicted + " evicted and " + reruns + " run again");
        }
    }

    /** The report of jobs that each ran alone, one after the other, with these {@code outcomes}. */
    public static BatchReport oneAtATime(List<JobOutcome> outcomes) {
        return new BatchReport(Objects.requireNonNull(outcomes, "outcomes"), List.of(), outcomes.size(), 0, 0);
    }
}
