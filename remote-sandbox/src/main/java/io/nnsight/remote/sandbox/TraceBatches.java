package io.nnsight.remote.sandbox;

import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.remote.internal.sandbox.Deadline;
import io.nnsight.remote.internal.sandbox.WeightGuard;
import io.nnsight.remote.internal.wire.JobForm;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.spi.TraceBatch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * Runs co-batched traces, as {@link SandboxedExecutor#executeBatch} describes: the plain traces become members
 * ({@link BatchedJob}), their inputs {@linkplain TraceBatch#prepare prepared} once, grouped by their shape into
 * forward passes within the {@link BatchLimits}, each pass one {@link TraceBatch}, with autograd off (no member's
 * code can use it); each result is encoded in its member's context, one weight check follows the passes, and the
 * jobs that did not join, or need a second run, run alone.
 */
final class TraceBatches {
    /** The kind of job a batch may hold. */
    private static final String TRACE = "TRACE";

    /** Its sandbox and weights; it runs the jobs that run alone. */
    private final SandboxedExecutor executor;

    TraceBatches(SandboxedExecutor executor) {
        this.executor = executor;
    }

    /** A member of a batch: its index among the batch's requests, and the job. */
    private record Member(int index, BatchedJob<Trace> job) {
        /** Its input's shape, or {@code null} for a trace whose body sets up its invokes. */
        TraceBatch.Shape shape() {
            TraceBatch.PreparedInput input = job.joins().input();
            return input == null ? null : input.shape();
        }
    }

    /**
     * What a forward pass runs of a member: its trace, and its input prepared, with its shape ({@code null} for a
     * trace whose body sets up its invokes: its shape is known only once it has run).
     */
    private record Trace(TraceJob<?> job, TraceBatch.PreparedInput input) {}

    /** The group of the traces whose body sets up their invokes: their keys are known only once set up. */
    private static final Object SET_UP = new Object();

    /** The outcomes of the jobs of {@code requests}, each with its context, and what the batch did. */
    BatchReport run(NNsight model, List<byte[]> requests, List<JobContext> contexts, BatchLimits limits) {
        JobOutcome[] outcomes = new JobOutcome[requests.size()];
        List<Member> members = new ArrayList<>();
        List<BatchReport.Forward> passes = new ArrayList<>();
        int evicted = 0;
        int reruns = 0;
        if (executor.weights.lost(model) == null) {
            WeightGuard guard = executor.weights.guard(model);
            // no member's code uses autograd
            try (PointerScope scope = new PointerScope(); NoGradGuard off = new NoGradGuard()) {
                Peers peers = new Peers();
                for (int i = 0; i < requests.size(); i++) {
                    BatchedJob<Trace> job = BatchedJob.prepare(executor.sandbox, model, TRACE, requests.get(i),
                            contexts.get(i), peers, form -> trace(model, form));
                    if (job != null) {
                        members.add(new Member(i, job));
                    }
                }
                TraceBatch.Budget budget = new TraceBatch.Budget(limits.rows(), limits.tokens());
                for (List<Member> forward : forwards(members, limits)) {
                    Pass pass = runTogether(model, forward, outcomes, peers, budget);
                    evicted += pass.evicted();
                    passes.add(pass.held());
                }
            }
            if (!members.isEmpty()) {
                checkWeights(model, guard, members, outcomes);
            }
            for (Member member : members) {
                if (outcomes[member.index] == null) {
                    reruns++;
                    member.job.output().drop();
                } else {
                    member.job.output().publish(member.job.context().log());
                }
            }
        }
        for (int i = 0; i < requests.size(); i++) {
            if (outcomes[i] == null) {
                outcomes[i] = executor.runAlone(model, requests.get(i), contexts.get(i));
            }
        }
        return new BatchReport(List.of(outcomes), passes, requests.size() - members.size(), evicted, reruns);
    }

    /**
     * What a forward pass runs of a job of {@code form}, read in the job's context: a plain trace (an input, no
     * options) whose input's rows may share a pass, or a trace whose body sets up its invokes (no input, no
     * options); else {@code null}.
     */
    private static Trace trace(NNsight model, JobForm form) {
        if (form.options() != null || !(form.on(model) instanceof TraceJob<?> job)) {
            return null;
        }
        if (form.input() == null) {
            return new Trace(job, null);
        }
        TraceBatch.PreparedInput input = TraceBatch.prepare(model, job.input());
        return input.shape().key() == null ? null : new Trace(job, input);
    }

    /**
     * The forward passes that run {@code members}: those of one {@linkplain TraceBatch.Shape#key() key} together,
     * in the order of each key's first member, so that no job's tensors are padded to another job's length; a key's
     * members, in order, fill one pass up to the {@code limits} in rows and tokens, then the next. A member over
     * either limit on its own gets a pass of its own. The traces whose body sets up their invokes share passes of
     * at most {@code limits.rows()} jobs (each adds a row at least); their keys and the limits are checked once they
     * are set up ({@link TraceBatch.Budget}), and those that do not fit are evicted and run alone.
     */
    private static List<List<Member>> forwards(List<Member> members, BatchLimits limits) {
        Map<Object, List<Member>> byKey = new LinkedHashMap<>();
        for (Member member : members) {
            byKey.computeIfAbsent(member.shape() == null ? SET_UP : member.shape().key(), key -> new ArrayList<>())
                    .add(member);
        }
        List<List<Member>> forwards = new ArrayList<>();
        for (List<Member> group : byKey.values()) {
            List<Member> forward = new ArrayList<>();
            long rows = 0;
            long tokens = 0;
            for (Member member : group) {
                TraceBatch.Shape shape = member.shape() == null ? new TraceBatch.Shape(SET_UP, 1, 1) : member.shape();
                if (!forward.isEmpty()
                        && (rows + shape.rows() > limits.rows() || tokens + shape.tokens() > limits.tokens())) {
                    forwards.add(forward);
                    forward = new ArrayList<>();
                    rows = 0;
                    tokens = 0;
                }
                forward.add(member);
                rows += shape.rows();
                tokens += shape.tokens();
            }
            forwards.add(forward);
        }
        return forwards;
    }

    /**
     * What one forward pass did.
     *
     * @param held its jobs, and the rows and tokens of their inputs (of a trace whose body set up its invokes, those
     *     it had once set up, if it got a result)
     * @param evicted how many of its members were evicted
     */
    private record Pass(BatchReport.Forward held, int evicted) {}

    /**
     * Runs the members as one {@link TraceBatch} within {@code budget} and sets the outcome of each that needs no
     * re-run: its encoded result or its failure.
     */
    private static Pass runTogether(NNsight model, List<Member> members, JobOutcome[] outcomes, Peers peers,
            TraceBatch.Budget budget) {
        List<TraceBatch.Member> batch = new ArrayList<>(members.size());
        Set<Deadline.Limit> own = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Member member : members) {
            batch.add(new TraceBatch.Member(member.job.joins().job(), member.job.body(), member.job.joins().input()));
            own.add(member.job.body().limit());
        }
        List<TraceBatch.Outcome> results;
        long mark = peers.mark();
        long started = System.nanoTime();
        try {
            results = TraceBatch.run(model, batch, budget);
        } catch (RuntimeException | Error e) {
            return new Pass(new BatchReport.Forward(members.size(), 0, 0), 0); // it could not start: each runs alone
        } finally {
            peers.ranForward(own, mark, System.nanoTime() - started);
        }
        // The forward pass itself failed (the model threw): each member still running got the same error.
        Set<Throwable> shared = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (TraceBatch.Outcome result : results) {
            if (result instanceof TraceBatch.Failed failed && !seen.add(failed.error())) {
                shared.add(failed.error());
            }
        }
        int evicted = 0;
        int rows = 0;
        long tokens = 0;
        for (int k = 0; k < members.size(); k++) {
            Member member = members.get(k);
            TraceBatch.Outcome result = results.get(k);
            TraceBatch.Shape shape = member.shape() != null ? member.shape()
                    : result instanceof TraceBatch.Result value ? value.shape() : null;
            if (shape != null) {
                rows += shape.rows();
                tokens += shape.tokens();
            }
            if (result instanceof TraceBatch.Result value) {
                outcomes[member.index] = member.job.encode(model, value.value());
            } else if (result instanceof TraceBatch.Failed failed && !shared.contains(failed.error())) {
                outcomes[member.index] = member.job.failed(failed.error());
            } else if (result instanceof TraceBatch.Evicted) {
                evicted++;
            }
            // evicted, or failed with the forward pass: it runs again alone
        }
        return new Pass(new BatchReport.Forward(members.size(), rows, tokens), evicted);
    }

    /**
     * The batch's one weight check: if the weights changed, they are restored and every member is to run again
     * alone; if they cannot be, every member fails and the model serves no more jobs.
     */
    private void checkWeights(NNsight model, WeightGuard guard, List<Member> members, JobOutcome[] outcomes) {
        List<String> changed;
        try {
            changed = executor.weights.restoreIfChanged(model, guard);
        } catch (JobFailedException lost) {
            for (Member member : members) {
                outcomes[member.index] = JobOutcome.failed(lost);
            }
            return;
        }
        if (!changed.isEmpty()) {
            for (Member member : members) {
                outcomes[member.index] = null;
            }
        }
    }
}
