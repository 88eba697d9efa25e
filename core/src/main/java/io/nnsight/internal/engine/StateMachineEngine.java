package io.nnsight.internal.engine;

import io.nnsight.spi.Debug;
import io.nnsight.spi.statemachine.StateMachine;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs each body that the nnsight agent compiled into a resumable method as a {@link StateMachine}: on the
 * model's thread, suspending by returning and resuming by calling again, with no thread and no JDK
 * continuation. Chosen with {@code -Dnnsight.engine=statemachine}, which also tells the agent to compile.
 *
 * <p>The choice is per body. The agent compiles a lambda (a trace, invoke or iteration body) when it can
 * prove the rewrite safe: every suspension in it is a direct call of nnsight's API, in the lambda itself or
 * in helper methods of its class that the agent compiled too. Any other body (one that suspends inside a
 * recursive or overridable method, a {@code forEach} lambda, a {@code synchronized} block, or calls code
 * the agent does not analyse) runs on the {@linkplain #fallback() fallback engine}: continuations where
 * available, else threads. Without the agent no body is compiled, so all of them do.
 * With {@code -Dnnsight.debug=true} each body's engine is logged.
 */
public final class StateMachineEngine implements Engine {
    private static final Logger LOG = LoggerFactory.getLogger(StateMachineEngine.class);
    private static final boolean DEBUG = Debug.enabled();

    /** The one instance. */
    public static final StateMachineEngine INSTANCE = new StateMachineEngine();

    private StateMachineEngine() {}

    @Override
    public String name() {
        return "statemachine";
    }

    /** Whether bodies of {@code bodyType} run as state machines: the agent compiled them and none failed. */
    public static boolean compiles(Class<?> bodyType) {
        return StateMachine.compiles(bodyType);
    }

    /** The engine of the bodies that are not compiled: continuations where available, else threads. */
    public static Engine fallback() {
        return ContinuationEngine.available() ? ContinuationEngine.INSTANCE : ThreadEngine.INSTANCE;
    }

    @Override
    public Engine engineFor(Class<?> bodyType) {
        return compiles(bodyType) ? this : fallback();
    }

    @Override
    public Coroutine create(String name, Class<?> bodyType, Supplier<Object> body) {
        if (compiles(bodyType)) {
            if (DEBUG) {
                Debug.log(LOG, "nnsight: {} ({}) runs as a state machine", name, bodyType.getName());
            }
            return new Machine(new StateMachine(name, bodyType, body, fallback().name()));
        }
        Engine fallback = fallback();
        if (DEBUG) {
            Debug.log(LOG, "nnsight: {} ({}) runs on {}: the agent did not compile it (see its log at class load)", name,
                    bodyType.getName(), fallback.name());
        }
        return fallback.create(name, bodyType, body);
    }

    /** A state machine as the coroutine the interleaver drives. */
    private static final class Machine implements Coroutine {
        private final StateMachine machine;

        Machine(StateMachine machine) {
            this.machine = machine;
        }

        @Override
        public String engine() {
            return "statemachine";
        }

        @Override
        public Object resume(Object reply) {
            return machine.resume(reply);
        }

        @Override
        public Object suspend(Object signal) {
            return machine.suspend(signal);
        }

        @Override
        public boolean isDone() {
            return machine.isDone();
        }

        @Override
        public boolean isCurrent() {
            return machine.isCurrent();
        }

        @Override
        public void close() {
            // Nothing to release: the body's state lives in the state machine.
        }

        @Override
        public String toString() {
            return machine.toString();
        }
    }
}
