package io.nnsight.internal;

import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.spi.BodyContext;
import java.util.List;

/**
 * How {@code spi.TraceBatch} reaches what only {@code NNsight} knows (its trace target, runner and edits)
 * without making it public: {@code NNsight} installs the runner when its class initializes.
 */
public final class CohortBatches {
    /** Runs traces of one hosted wrapper as cohorts of one {@link TraceRun}; see {@link TraceRun#executeCohorts}. */
    public interface Runner {
        List<Cohort> run(NNsight hosted, List<TraceJob<?>> jobs, List<BodyContext> contexts);
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
