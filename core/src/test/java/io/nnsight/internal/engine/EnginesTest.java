package io.nnsight.internal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The coroutine contract, for every engine this JVM can run (continuations need JDK 21+ and the export). */
class EnginesTest {
    static List<Engine> engines() {
        List<Engine> engines = new ArrayList<>(List.of(ThreadEngine.INSTANCE));
        if (ContinuationEngine.available()) {
            engines.add(ContinuationEngine.INSTANCE);
        }
        return engines;
    }

    @ParameterizedTest
    @MethodSource("engines")
    void resumeAndSuspend_pingPong_inStrictOrder(Engine engine) {
        List<String> log = new ArrayList<>();
        Coroutine[] self = new Coroutine[1];
        Coroutine coroutine = engine.create("test-body", EnginesTest.class, () -> {
            log.add("body starts");
            Object reply = self[0].suspend("first");
            log.add("body got " + reply);
            reply = self[0].suspend("second");
            log.add("body got " + reply);
            return "done";
        });
        self[0] = coroutine;

        assertEquals("first", coroutine.resume(null));
        log.add("model");
        assertEquals("second", coroutine.resume(1));
        log.add("model");
        assertEquals("done", coroutine.resume(2));
        coroutine.close();

        assertTrue(coroutine.isDone());
        assertEquals(List.of("body starts", "model", "body got 1", "model", "body got 2"), log);
        assertEquals(0, ThreadEngine.liveBodies());
    }

    @ParameterizedTest
    @MethodSource("engines")
    void bodyThatThrows_endsWithTheThrowable(Engine engine) {
        Coroutine coroutine = engine.create("failing-body", EnginesTest.class, () -> {
            throw new IllegalStateException("boom");
        });

        Object last = coroutine.resume(null);
        coroutine.close();

        assertEquals("boom", ((IllegalStateException) last).getMessage());
    }

    @ParameterizedTest
    @MethodSource("engines")
    void isCurrent_onlyInsideTheBody(Engine engine) {
        Coroutine[] self = new Coroutine[1];
        self[0] = engine.create("current-body", EnginesTest.class, () -> self[0].isCurrent());

        assertFalse(self[0].isCurrent());
        assertEquals(Boolean.TRUE, self[0].resume(null));
        self[0].close();
    }

    @ParameterizedTest
    @MethodSource("engines")
    void suspend_outsideTheBody_fails(Engine engine) {
        Coroutine coroutine = engine.create("idle-body", EnginesTest.class, () -> null);

        assertThrows(IllegalStateException.class, () -> coroutine.suspend("x"));
        coroutine.resume(null);
        coroutine.close();
    }

    @Test
    void interruptedCaller_stillWaitsForTheBody_andKeepsItsInterrupt() {
        Engine engine = ThreadEngine.INSTANCE;
        Coroutine[] self = new Coroutine[1];
        self[0] = engine.create("slow-body", EnginesTest.class, () -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return "interrupted";
            }
            return "slept";
        });

        Thread.currentThread().interrupt();
        Object result = self[0].resume(null);
        boolean interrupted = Thread.interrupted();
        self[0].close();

        assertEquals("slept", result);
        assertTrue(interrupted);
    }

    @ParameterizedTest
    @MethodSource("engines")
    void neverStartedCoroutine_closesWithoutAThread(Engine engine) {
        Coroutine coroutine = engine.create("never", EnginesTest.class, () -> null);

        coroutine.close();

        assertEquals(0, ThreadEngine.liveBodies());
    }

    @Test
    void continuations_runTheBodyOnTheCallersThread() {
        if (!ContinuationEngine.available()) {
            assertTrue(ContinuationEngine.unavailableReason().length() > 10, ContinuationEngine.unavailableReason());
            return;
        }
        Coroutine[] self = new Coroutine[1];
        Thread caller = Thread.currentThread();
        self[0] = ContinuationEngine.INSTANCE.create("same-thread", EnginesTest.class, () -> {
            Thread before = Thread.currentThread();
            self[0].suspend("pause");
            return before == caller && Thread.currentThread() == caller;
        });

        assertEquals("pause", self[0].resume(null));
        assertEquals(Boolean.TRUE, self[0].resume(null));
    }
}
