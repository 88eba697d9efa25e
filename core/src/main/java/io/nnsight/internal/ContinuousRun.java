package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.TraceException;
import io.nnsight.spi.ContinuousBatch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.bytedeco.pytorch.GradMode;

/**
 * Cohorts that join and leave a {@link TraceRun} between forward passes, as a model runner lays them out: a
 * continuous batch ({@code spi.ContinuousBatch}). This is the control the runner has: it admits cohorts at step
 * boundaries, runs each forward pass on the cohorts it lays out, and ends each cohort's steps and run on their own.
 * The {@link Interleaver}, in continuous mode, serves each present cohort at its own iteration.
 */
public final class ContinuousRun implements ContinuousBatch.Control {
    /** Where the cohorts of a continuous run come from, and where they go once they end. */
    public interface Admission {
        /** The cohorts to join now, given how many are running; called at step boundaries while the epoch admits. */
        List<Cohort> admit(int running);

        /** {@code cohort} has its outcome; called once per cohort, as soon as it is final. */
        void finished(Cohort cohort);

        /**
         * A step ran: a forward pass of {@code cohorts} cohorts whose steps had not ended, of {@code rows} rows,
         * which ran {@code tokens} tokens (a cohort's first pass, its prompt: its shape's tokens; later: one per row).
         */
        void stepped(int cohorts, int rows, long tokens);
    }

    private final TraceRun run;
    private final Interleaver running;
    private final Admission admission;
    private final int epochSteps;
    private final StackTraceElement[] callerFrames;
    /** Every cohort admitted, in the order they joined. */
    private final List<Cohort> joined = new ArrayList<>();
    /** The failures whose stack traces were cleaned (one error may fail several cohorts). */
    private final Set<Throwable> cleanedFailures = Collections.newSetFromMap(new IdentityHashMap<>());
    private int forwards;
    private int live;
    /** The cohorts present in a step already: a later pass runs one new token per row of theirs. */
    private final Set<Cohort> stepped = Collections.newSetFromMap(new IdentityHashMap<>());
    /** The cohorts whose steps ended: a pass of only these (a generator on their ids) is no step. */
    private final Set<Cohort> stepsEnded = Collections.newSetFromMap(new IdentityHashMap<>());

    private ContinuousRun(TraceRun run, Interleaver running, Admission admission, int epochSteps,
            StackTraceElement[] callerFrames) {
        this.run = run;
        this.running = running;
        this.admission = admission;
        this.epochSteps = epochSteps;
        this.callerFrames = callerFrames;
    }

    /**
     * Runs cohorts that join and leave {@code run} between forward passes, as {@code runner} lays them out. Holds the
     * wrapper's lock until {@code runner} returns. A cohort is set up when it joins, on this thread in its context,
     * as in {@link CohortRun#execute}; each forward pass serves the cohorts laid out for it, each at its own
     * iteration; its outcome goes to {@code admission} as soon as it ends. A failure of the runner (the model
     * throws) evicts every cohort still running: alone, each learns whether it is its own.
     *
     * @param run a trace of no invokes yet, whose edits and invokes the cohorts add ({@link Cohort#addEdits})
     * @param epochSteps how many forward passes admit cohorts; afterwards {@code admit} gives none
     */
    public static void execute(TraceRun run, ContinuousBatch.Runner runner, Admission admission, int epochSteps) {
        run.begin();
        Interleaver running = new Interleaver(run.target(), List.of(), 0, GradMode.is_enabled());
        running.continuous();
        run.attach(running);
        ContinuousRun control = new ContinuousRun(run, running, admission, epochSteps,
                new Throwable().getStackTrace());
        Throwable failure = null;
        try {
            runner.run(control);
        } catch (Throwable error) {
            failure = error;
        } finally {
            try {
                control.endUnreported(failure);
            } finally {
                running.cancel();
                run.detach();
                run.keepSaved();
                run.end();
            }
        }
    }

    /** Ends the cohorts still running once the runner returned or failed ({@code failure}), and reports them. */
    private void endUnreported(Throwable failure) {
        for (Cohort cohort : joined) {
            if (!cohort.reported) {
                if (failure != null) {
                    cohort.evict("the forward pass it shared failed (" + failure + ")");
                } else {
                    cohort.fail(new TraceException("the model runner returned before this trace's run was over"));
                }
                conclude(cohort);
            }
        }
    }

    @Override
    public List<ContinuousBatch.Lane> admit() {
        if (forwards >= epochSteps) {
            return List.of();
        }
        List<ContinuousBatch.Lane> lanes = new ArrayList<>();
        for (Cohort cohort : admission.admit(live)) {
            joined.add(cohort);
            join(cohort);
            if (cohort.hasEnded()) { // its set-up failed or was evicted, or it stopped before the model ran for it
                conclude(cohort);
            } else {
                live++;
                lanes.add(cohort);
            }
        }
        return lanes;
    }

    /** Sets {@code cohort} up, batches its inputs and starts its bodies; a failure ends it alone. */
    private void join(Cohort cohort) {
        run.setUp(cohort);
        List<TraceRun.Invocation> own = new ArrayList<>();
        List<Batchable.Prepared> rows = new ArrayList<>(); // its invokes' prepared inputs, in invoke order
        for (TraceRun.Invocation invocation : run.invocations()) {
            if (invocation.cohort == cohort) {
                own.add(invocation);
                if (invocation.prepared != null) {
                    rows.add(invocation.prepared);
                }
            }
        }
        if (!cohort.ended) {
            Batchable batchable = run.target().batchable();
            try {
                cohort.shape = CohortBatches.shapeOf(batchable, rows);
                if (cohort.shape.key() == null) {
                    cohort.evict("the model's inputs do not say that rows may share a forward pass");
                } else {
                    cohort.inputs = rows.size() == 1 ? rows.get(0).inputs() : batchable.combine(rows);
                }
            } catch (RuntimeException e) {
                cohort.fail(e);
            }
        }
        if (cohort.ended) {
            run.invocations().removeAll(own);
            return;
        }
        int nextRow = 0;
        for (TraceRun.Invocation invocation : own) {
            RowRange group = null;
            if (invocation.prepared != null) {
                group = new RowRange(nextRow, invocation.prepared.batchSize());
                nextRow += invocation.prepared.batchSize();
            }
            invocation.mediator = new Mediator(run.invocations().indexOf(invocation), invocation.name, group,
                    invocation.body, cohort);
            cohort.mediators.add(invocation.mediator);
        }
        for (TraceRun.Invocation invocation : own) {
            run.startBody(invocation, running);
        }
        running.join(cohort);
    }

    @Override
    public <T> T forward(List<ContinuousBatch.Lane> lanes, Supplier<T> pass) {
        List<Cohort> present = new ArrayList<>(lanes.size());
        List<Integer> sizes = new ArrayList<>(lanes.size());
        for (ContinuousBatch.Lane lane : lanes) {
            present.add(own(lane));
            sizes.add(lane.size());
        }
        forwards++;
        running.layout(present, sizes);
        T result;
        try {
            result = pass.get();
        } finally {
            running.layout(List.of(), List.of());
        }
        reportStep(present);
        return result;
    }

    /** Tells the admission of the step {@code present} ran, unless every one of them had ended its steps. */
    private void reportStep(List<Cohort> present) {
        int cohorts = 0;
        int rows = 0;
        long tokens = 0;
        for (Cohort cohort : present) {
            if (!stepsEnded.contains(cohort)) {
                cohorts++;
                rows += cohort.size();
                tokens += stepped.add(cohort) ? cohort.shape.tokens() : cohort.size();
            }
        }
        if (cohorts > 0) {
            admission.stepped(cohorts, rows, tokens);
        }
    }

    @Override
    public void endSteps(ContinuousBatch.Lane lane) {
        Cohort cohort = own(lane);
        stepsEnded.add(cohort);
        running.endSteps(cohort);
    }

    @Override
    public void finish(ContinuousBatch.Lane lane) {
        Cohort cohort = own(lane);
        if (cohort.reported) {
            return;
        }
        live--;
        conclude(cohort);
    }

    /** Ends {@code cohort}'s run, takes its result unless it failed or was evicted, and reports its outcome. */
    private void conclude(Cohort cohort) {
        running.end(cohort);
        if (!cohort.ended) {
            run.succeed(cohort);
        }
        report(cohort);
    }

    @Override
    public void fail(ContinuousBatch.Lane lane, Throwable error) {
        own(lane).fail(error);
        finish(lane);
    }

    private Cohort own(ContinuousBatch.Lane lane) {
        if (!(lane instanceof Cohort) || !joined.contains(lane)) {
            throw new IllegalArgumentException("not a lane of this run: " + lane);
        }
        return (Cohort) lane;
    }

    /** Reports {@code cohort}'s outcome, its failure cleaned as a trace alone throws it. */
    private void report(Cohort cohort) {
        cohort.reported = true;
        if (cohort.failure() != null && cleanedFailures.add(cohort.failure())) {
            StackTraces.clean(cohort.failure(), callerFrames);
        }
        admission.finished(cohort);
    }
}
