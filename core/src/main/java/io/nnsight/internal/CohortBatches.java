package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.spi.BodyContext;
import io.nnsight.spi.TraceBatch;
import java.util.List;

/**
 * How {@code spi.TraceBatch} reaches what only {@code NNsight} knows (its trace target, runner and edits)
 * without making it public: {@code NNsight} installs the runner when its class initializes. The types are
 * {@code Object} because the engine does not use the facade ({@code NNsight}, {@code TraceJob}).
 */
public final class CohortBatches {
    /** Runs traces of one hosted wrapper as cohorts of one {@link TraceRun}; see {@link CohortRun}. */
    public interface Runner {
        /**
         * @param hosted an {@code NNsight}
         * @param members traces of it or of its copies, each with its context and, if given, its prepared input
         *     (checked to be of {@code hosted}'s target and unused)
         * @param budget the most rows and tokens the forward pass holds
         * @return each member's cohort, holding its outcome
         */
        List<Cohort> run(Object hosted, List<TraceBatch.Member> members, TraceBatch.Budget budget);
    }

    /** Makes the cohorts of a continuous run ({@link ContinuousRun}) from jobs of a hosted wrapper. */
    public interface Cohorts {
        /** The trace target of {@code hosted}, an {@code NNsight}: what its batches and continuous runs trace. */
        TraceTarget target(Object hosted);

        /**
         * The cohort of {@code job}, a {@code TraceJob} of {@code hosted} or of a copy of it, in {@code run}.
         *
         * @param prepared its input prepared for {@code hosted} ({@code TraceBatch.prepare}, checked and claimed), or
         *     {@code null}: the run prepares it
         * @param options what the run's model runner reads for it
         * @throws IllegalArgumentException when the job traces another model
         */
        Cohort cohort(Object hosted, TraceRun run, Object job, BodyContext context, TraceBatch.PreparedInput prepared,
                Object options);
    }

    private static volatile Runner runner;
    private static volatile Cohorts cohorts;

    private CohortBatches() {}

    /** Called by {@code NNsight} once; later calls change nothing. */
    public static synchronized void install(Runner installed) {
        if (runner == null) {
            runner = installed;
        }
    }

    /** Called by {@code NNsight} once; later calls change nothing. */
    public static synchronized void install(Cohorts installed) {
        if (cohorts == null) {
            cohorts = installed;
        }
    }

    /** The cohort maker {@code NNsight} installed. */
    public static Cohorts cohorts() {
        Cohorts installed = cohorts;
        if (installed == null) {
            throw new IllegalStateException("NNsight has not been initialized");
        }
        return installed;
    }

    /** {@code input} prepared as a trace of {@code target} prepares it; see {@code TraceBatch.prepare}. */
    public static Batchable.Prepared prepare(TraceTarget target, Object input) {
        return target.batchable().prepare(input);
    }

    /**
     * The shape of a trace of {@code target} whose input, prepared, is {@code prepared}: its {@linkplain
     * Batchable#cohortKey key}, rows and tokens; without rows (options), no key; see {@code TraceBatch.prepare}.
     */
    public static TraceBatch.Shape shape(TraceTarget target, Batchable.Prepared prepared) {
        return prepared.batchSize() == 0 ? new TraceBatch.Shape(null, 0, 0)
                : shapeOf(target.batchable(), List.of(prepared));
    }

    /** The shape of a trace whose invokes' prepared inputs are {@code rows}: their key, rows and tokens. */
    static TraceBatch.Shape shapeOf(Batchable batchable, List<Batchable.Prepared> rows) {
        int size = 0;
        for (Batchable.Prepared prepared : rows) {
            size += prepared.batchSize();
        }
        return new TraceBatch.Shape(batchable.cohortKey(rows), size, size == 0 ? 0 : size * batchable.paddedLength(rows));
    }

    /** The runner {@code NNsight} installed. */
    public static Runner runner() {
        Runner installed = runner;
        if (installed == null) {
            throw new IllegalStateException("NNsight has not been initialized");
        }
        return installed;
    }
}
