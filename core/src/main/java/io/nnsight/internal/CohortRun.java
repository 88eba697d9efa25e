package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.spi.ModelRunner;
import io.nnsight.spi.TraceBatch;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Several independent traces, the cohorts, run as one {@link TraceRun} with one forward pass: what {@code
 * spi.TraceBatch} runs. Each cohort in turn adds its edits and prepares its input or runs its set-up body (on the
 * calling thread, in its context); cohorts whose inputs may not share the pass are evicted; then one forward pass
 * serves the others, each on its own contiguous rows.
 */
public final class CohortRun {
    private CohortRun() {}

    /**
     * Runs {@code cohorts} as one trace, {@code run}. Afterwards each cohort holds its outcome: its {@linkplain
     * Cohort#result() result}, or its {@linkplain Cohort#failure() failure}, or why it was {@linkplain
     * Cohort#evicted() evicted}. A cohort that fails or is evicted, before the forward or during it, ends alone;
     * the others compute what they compute alone. A cohort whose {@linkplain Batchable#cohortKey key} differs
     * from the first running cohort's (or is {@code null}, after it) is evicted before the forward, and so is one
     * whose input carries options, and one whose rows or tokens would take the pass past the {@code budget} (never
     * the first running cohort: a trace over the budget alone still runs, in a pass of its own).
     *
     * <p>A failure of the forward pass itself (the model throws) fails every cohort still running with it.
     *
     * @param run a trace of no invokes yet, whose edits and invokes the cohorts add ({@link Cohort#addEdits})
     * @param cohorts the traces, in the order their rows and invokes take
     * @param runner runs the model on the batched inputs
     * @param budget the most rows and tokens the forward pass holds
     */
    public static void execute(TraceRun run, List<Cohort> cohorts, ModelRunner runner, TraceBatch.Budget budget) {
        run.begin();
        try {
            for (Cohort cohort : cohorts) {
                run.setUp(cohort);
            }
            checkShapes(run, cohorts, budget);
            boolean anyLive = false;
            for (Cohort cohort : cohorts) {
                anyLive |= !cohort.ended;
            }
            if (!anyLive) {
                return;
            }
            assignRows(run, cohorts);
            try {
                run.runModel(null, cohorts, runner);
            } catch (Throwable error) {
                for (Cohort cohort : cohorts) {
                    cohort.fail(error);
                }
                return;
            }
            for (Cohort cohort : cohorts) {
                if (!cohort.ended) {
                    run.succeed(cohort);
                }
            }
            run.keepSaved();
        } finally {
            // each failure as a trace alone throws it: the engine's frames removed, the caller's appended, once
            Set<Throwable> cleaned = Collections.newSetFromMap(new IdentityHashMap<>());
            StackTraceElement[] callerFrames = null; // walked only when a member failed
            for (Cohort cohort : cohorts) {
                if (cohort.failure() != null && cleaned.add(cohort.failure())) {
                    if (callerFrames == null) {
                        callerFrames = new Throwable().getStackTrace();
                    }
                    StackTraces.clean(cohort.failure(), callerFrames);
                }
            }
            run.end();
        }
    }

    /**
     * Gives each running cohort its {@linkplain Cohort#shape shape}, and evicts those whose key says their rows may
     * not share the first running cohort's forward pass, or whose rows or tokens would take it past the budget.
     */
    private static void checkShapes(TraceRun run, List<Cohort> cohorts, TraceBatch.Budget budget) {
        Cohort first = null;
        Object key = null;
        long rows = 0;
        long tokens = 0;
        for (Cohort cohort : cohorts) {
            if (cohort.ended) {
                continue;
            }
            TraceBatch.Shape own = cohort.shape; // known already when its input was given prepared
            if (own == null) {
                try {
                    own = CohortBatches.shapeOf(run.target().batchable(), run.inputsOf(cohort));
                } catch (RuntimeException e) {
                    cohort.fail(e);
                    continue;
                }
                cohort.shape = own;
            }
            if (first == null) {
                first = cohort;
                key = own.key();
            } else if (key == null || !key.equals(own.key())) {
                cohort.evict(key == null ? "the model's inputs do not say that rows may share a forward pass"
                        : "its input's batching key " + own.key() + " differs from the batch's, " + key);
                continue;
            } else if (rows + own.rows() > budget.rows() || tokens + own.tokens() > budget.tokens()) {
                cohort.evict("its " + own.rows() + " rows and " + own.tokens() + " tokens would take the forward pass "
                        + "past its budget of " + budget.rows() + " rows and " + budget.tokens() + " tokens");
                continue;
            }
            rows += own.rows();
            tokens += own.tokens();
        }
        run.invocations().removeIf(invocation -> invocation.cohort != null && invocation.cohort.ended);
    }

    /** Gives each cohort the rows of its invokes with input, which are contiguous. */
    private static void assignRows(TraceRun run, List<Cohort> cohorts) {
        int next = 0;
        for (Cohort cohort : cohorts) {
            int start = next;
            for (TraceRun.Invocation invocation : run.invocations()) {
                if (invocation.cohort == cohort && invocation.prepared != null) {
                    next += invocation.prepared.batchSize();
                }
            }
            cohort.rows = next > start ? new RowRange(start, next - start) : null;
        }
    }
}
