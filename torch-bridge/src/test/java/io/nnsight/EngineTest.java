package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.internal.engine.ContinuationEngine;
import io.nnsight.internal.engine.Engine;
import io.nnsight.internal.engine.StateMachineEngine;
import io.nnsight.internal.engine.ThreadEngine;
import io.nnsight.spi.NativeHookPoints;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The engine that runs bodies: the one chosen for this test run ({@code -Dnnsight.engine}), and what it
 * must handle whatever it is: suspensions inside helpers, {@code forEach} lambdas and streams.
 */
class EngineTest extends TinyModelFixture {
    @Test
    void engine_isTheOneAskedFor() {
        boolean agent = NativeHookPoints.callSitesEnabled();
        if (agent && Runtime.version().feature() >= 21) {
            assertTrue(ContinuationEngine.available(), "the agent did not open continuations: "
                    + ContinuationEngine.unavailableReason());
        }
        String wanted = System.getProperty("nnsight.engine", "auto");
        boolean continuations = ContinuationEngine.available();
        String expected = wanted.equals("statemachine") || wanted.equals("auto") && !continuations && agent
                ? "statemachine"
                : wanted.equals("threads") || !continuations ? "threads" : "continuations";

        assertEquals(expected, Engine.current().name());
        assertEquals(expected, BodyEngine.configured().property());
        assertEquals(continuations, BodyEngine.continuationsUnavailable().isEmpty());
    }

    @Test
    void tracerEngine_isTheEngineThatRunsTheBody() {
        TraceBody<BodyEngine> body = tr -> {
            model.get("layer1").output();
            return tr.engine();
        };

        BodyEngine ran = model.trace(input, body);

        // the state-machine engine runs a body it did not compile on its fallback; the others run every body
        assertEquals(Engine.current().engineFor(body.getClass()).name(), ran.property());
    }

    /**
     * Whether the bodies below run on continuations: with that engine, or with the state-machine engine,
     * which leaves them there (they suspend in other classes, or in a synchronized block).
     */
    private static boolean onContinuations() {
        Engine engine = Engine.current() instanceof StateMachineEngine ? StateMachineEngine.fallback() : Engine.current();
        return engine instanceof ContinuationEngine;
    }

    @Test
    void body_runsOnTheModelsThread_unlessOnThreads() {
        Thread caller = Thread.currentThread();

        Thread body = model.trace(input, tr -> {
            model.get("layer1").output();
            return Thread.currentThread();
        });

        if (!(Engine.current() instanceof ThreadEngine)) {
            assertSame(caller, body);
        } else {
            assertNotSame(caller, body);
        }
    }

    @Test
    void suspension_throughForEachLambdasAndStreams() {
        List<Tensor> viaForEach = model.trace(input, tr -> {
            List<Tensor> outputs = new ArrayList<>();
            List.of("layer1", "layer2").forEach(path -> outputs.add(model.get(path).output()));
            return outputs;
        });
        List<Tensor> viaStream = model.trace(input, tr -> List.of("layer1", "layer2").stream()
                .map(path -> model.get(path).output())
                .collect(Collectors.toList()));

        assertTrue(Models.same(viaForEach.get(1), viaStream.get(1)));
        assertTrue(Models.same(net.forward(input), viaStream.get(1)));
    }

    @Test
    void suspensionInsideASynchronizedBlock_worksOrFailsClearly() {
        Object lock = new Object();
        if (onContinuations() && Runtime.version().feature() < 24) {
            TraceException error = assertThrows(TraceException.class, () -> model.trace(input, tr -> {
                synchronized (lock) {
                    return model.get("layer2").output();
                }
            }));
            assertTrue(error.getMessage().contains("synchronized"), error.getMessage());
        } else {
            Tensor output = model.trace(input, tr -> {
                synchronized (lock) {
                    return model.get("layer2").output();
                }
            });
            assertTrue(Models.same(net.forward(input), output));
        }
    }

    @Test
    void suspensionInsideAStaticInitializer_worksOrFailsClearly() {
        NNsight wrapped = model;
        Holder.model = wrapped;
        if (onContinuations()) {
            // The JVM wraps what a static initializer throws; the cause says what happened.
            ExceptionInInitializerError error = assertThrows(ExceptionInInitializerError.class,
                    () -> wrapped.trace(input, tr -> Holder.read()));
            assertInstanceOf(TraceException.class, error.getCause());
            assertTrue(error.getCause().getMessage().contains("static initializer"), error.getCause().getMessage());
        } else {
            assertTrue(Models.same(net.forward(input), wrapped.trace(input, tr -> Holder.read())));
        }
    }

    @Test
    void bodyThatCouldNotSuspend_runsOnAThreadFromItsNextTrace() {
        shared = model;
        List<Object> outcomes = new ArrayList<>();
        for (Supplier<Tensor> reader : List.<Supplier<Tensor>>of(FirstHolder::read, SecondHolder::read)) {
            try {
                outcomes.add(model.trace(input, tr -> reader.get()));
            } catch (ExceptionInInitializerError error) {
                outcomes.add(error.getCause());
            }
        }

        if (onContinuations()) {
            TraceException first = assertInstanceOf(TraceException.class, outcomes.get(0));
            assertTrue(first.getMessage().contains("From the next trace on, this body"), first.getMessage());
        } else {
            assertTrue(Models.same(net.forward(input), (Tensor) outcomes.get(0)));
        }
        assertTrue(Models.same(net.forward(input), (Tensor) outcomes.get(1)));
    }

    /** The model the holders' initializers read. */
    private static NNsight shared;

    /** Each initializer reads layer2's output of {@link #shared}; a class is initialized once, so each serves one trace. */
    static final class FirstHolder {
        static final Tensor VALUE = shared.get("layer2").output();

        static Tensor read() {
            return VALUE;
        }
    }

    static final class SecondHolder {
        static final Tensor VALUE = shared.get("layer2").output();

        static Tensor read() {
            return VALUE;
        }
    }

    /** Its initializer reads layer2's output. */
    static final class Holder {
        static NNsight model;

        static Tensor read() {
            return Initializer.VALUE;
        }

        static final class Initializer {
            static final Tensor VALUE = model.get("layer2").output();
        }
    }
}
