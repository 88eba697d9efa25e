package io.nnsight.internal.engine;

import io.nnsight.spi.Debug;
import io.nnsight.spi.NativeHookPoints;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Chooses the engine once per process; see {@link Engine#current()}. */
final class Engines {
    private static final Logger LOG = LoggerFactory.getLogger(Engines.class);

    static final Engine CURRENT = chosen(System.getProperty("nnsight.engine", "auto"));

    private Engines() {}

    private static Engine chosen(String wanted) {
        Engine engine = choose(wanted);
        if (Debug.enabled()) {
            Debug.log(LOG, "nnsight: intervention bodies run on {} (-Dnnsight.engine={}; continuations: {})", engine.name(),
                    wanted, ContinuationEngine.available() ? "available" : ContinuationEngine.unavailableReason());
        }
        return engine;
    }

    static Engine choose(String wanted) {
        switch (wanted.trim().toLowerCase(Locale.ROOT)) {
            case "threads":
                return ThreadEngine.INSTANCE;
            case "continuations":
                if (ContinuationEngine.available()) {
                    return ContinuationEngine.INSTANCE;
                }
                LOG.warn("-Dnnsight.engine=continuations: {}; using threads", ContinuationEngine.unavailableReason());
                return ThreadEngine.INSTANCE;
            case "statemachine":
                if (!NativeHookPoints.callSitesEnabled()) {
                    LOG.warn("-Dnnsight.engine=statemachine: the nnsight agent is not running, so no body is compiled; "
                            + "every body runs on {}", StateMachineEngine.fallback().name());
                }
                return StateMachineEngine.INSTANCE;
            case "auto":
                if (ContinuationEngine.available()) {
                    return ContinuationEngine.INSTANCE;
                }
                if (NativeHookPoints.callSitesEnabled()) {
                    // The agent without continuations (JDK 17 to 20) compiles the bodies it can.
                    LOG.debug("continuations unavailable ({}); using state machines, and threads for the bodies "
                            + "not compiled", ContinuationEngine.unavailableReason());
                    return StateMachineEngine.INSTANCE;
                }
                LOG.debug("continuations unavailable ({}); using threads", ContinuationEngine.unavailableReason());
                return ThreadEngine.INSTANCE;
            default:
                LOG.warn("-Dnnsight.engine={} is not an engine (threads, continuations, statemachine or auto); using auto", wanted);
                return choose("auto");
        }
    }
}
