package io.nnsight.internal;

import io.nnsight.spi.BodyContext;
import java.util.List;

/**
 * How {@code spi.TraceBatch} reaches what only {@code NNsight} knows (its trace target, runner and edits)
 * without making it public: {@code NNsight} installs the runner when its class initializes. The types are
 * {@code Object} because the engine does not use the facade ({@code NNsight}, {@code TraceJob}).
 */
public final class CohortBatches {
    /** Runs traces of one hosted wrapper as cohorts of one {@link TraceRun}; see {@link TraceRun#executeCohorts}. */
    public interface Runner {
        /**
         * @param hosted an {@code NNsight}
         * @param jobs {@code TraceJob}s of it or of its copies
         * @param contexts each job's context
         * @return each job's cohort, holding its outcome
         */
        List<Cohort> run(Object hosted, List<?> jobs, List<BodyContext> contexts);
    }

    private static volatile Runner runner;

    private CohortBatches() {}

    /** Called by {@code NNsight} once; later calls change nothing. */
    public static synchronized void install(Runner installed) {
        if (runner == null) {
            runner = installed;
        }
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
