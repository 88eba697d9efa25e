package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.internal.engine.Engine;
import io.nnsight.internal.engine.StateMachineEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Awkward intervention bodies, each run by whatever engine this test run uses: the results must be those
 * of plain Java. Under {@code -Dnnsight.engine=statemachine} (with the agent) each test also checks which
 * engine the body got: compiled into a state machine, or left on continuations where the rewrite is not
 * provably safe. That run also verifies every class with {@code -Xverify:all}.
 */
class StateMachineTest extends TinyModelFixture {
    private final AtomicInteger finallyRuns = new AtomicInteger();

    /** Under the state-machine engine, checks that bodies of {@code body}'s class run compiled (or not). */
    private static void assertCompiled(boolean compiled, Object body) {
        if (Engine.current() instanceof StateMachineEngine) {
            String expected = compiled ? "statemachine" : StateMachineEngine.fallback().name();
            assertEquals(expected, Engine.current().engineFor(body.getClass()).name(), body.getClass().getName());
        }
    }

    private Tensor layer1Of(Tensor x) {
        return layer("layer1").forward(x);
    }

    @Test
    void oneRead_runsCompiled() {
        TraceBody<Tensor> body = tr -> model.get("layer2").output();

        assertCompiled(true, body);
        assertTrue(Models.same(net.forward(input), model.trace(input, body)));
    }

    @Test
    void outOfOrderRead_throwsAtTheUsersLine() {
        TraceBody<Tensor> body = tr -> {
            model.get("layer2").output();
            return model.get("layer1").output();
        };

        assertCompiled(true, body);
        OutOfOrderException error = assertThrows(OutOfOrderException.class, () -> model.trace(input, body));
        assertEquals(StateMachineTest.class.getName(), firstUserFrame(error));
    }

    private static String firstUserFrame(Throwable error) {
        for (StackTraceElement frame : error.getStackTrace()) {
            if (frame.getClassName().equals(StateMachineTest.class.getName())) {
                return frame.getClassName();
            }
        }
        return "no frame of the test";
    }

    @Test
    void tryCatchAroundASuspension_catchesTheRequestsError() {
        TraceBody<String> body = tr -> {
            try {
                model.get("layer2").output();
                model.get("layer1").output();
                return "not thrown";
            } catch (OutOfOrderException e) {
                return "caught after " + model.get("layer2").path();
            }
        };

        assertCompiled(true, body);
        assertEquals("caught after layer2", model.trace(input, body));
    }

    @Test
    void tryFinallyAroundSuspensions_runsTheFinallyOnce() {
        TraceBody<Tensor> body = tr -> {
            try {
                Tensor first = model.get("layer1").output();
                return first.add(model.get("layer2").output().sum());
            } finally {
                finallyRuns.incrementAndGet();
            }
        };

        assertCompiled(true, body);
        Tensor result = model.trace(input, body);
        assertTrue(Models.same(layer1Of(input).add(net.forward(input).sum()), result));
        assertEquals(1, finallyRuns.get());
    }

    @Test
    void bodyCancelledAtTheEnd_runsItsFinallyOnce() {
        TraceBody<Tensor> body = tr -> {
            try {
                model.get("layer2").output();
                tr.next();
                return model.get("layer2").output();
            } finally {
                finallyRuns.incrementAndGet();
            }
        };

        assertThrows(NotReachedException.class, () -> model.trace(input, body));
        assertEquals(1, finallyRuns.get());
    }

    @Test
    void longDoubleFloatAndIntLocals_surviveSuspensions() {
        TraceBody<Double> body = tr -> {
            long big = 1L << 40;
            double half = 0.5;
            float two = 2f;
            int seven = 7;
            boolean flag = true;
            char c = 'x';
            double first = model.get("layer1").output().sum().item_double();
            big += 1;
            double second = model.get("layer2").output().sum().item_double();
            return big + half + two + seven + (flag ? 1 : 0) + c + first + second;
        };

        assertCompiled(true, body);
        double expected = (1L << 40) + 1 + 0.5 + 2 + 7 + 1 + 'x' + layer1Of(input).sum().item_double()
                + net.forward(input).sum().item_double();
        assertEquals(expected, model.trace(input, body), 1e-4);
    }

    @Test
    void capturedVariablesAndFields_areReadAfterSuspensions() {
        Tensor extra = torch.ones(1, 2);
        int times = 3;
        TraceBody<Tensor> body = tr -> {
            Tensor hidden = model.get("layer1").output();
            Tensor out = model.get("layer2").output();
            return out.add(extra.mul(new Scalar(times))).add(hidden.sum()).add(input.sum());
        };

        assertCompiled(true, body);
        Tensor expected = net.forward(input).add(torch.ones(1, 2).mul(new Scalar(3))).add(layer1Of(input).sum())
                .add(input.sum());
        assertTrue(Models.same(expected, model.trace(input, body)));
    }

    @Test
    void earlyReturns_takeEitherPath() {
        for (boolean early : new boolean[] {true, false}) {
            TraceBody<Tensor> body = tr -> {
                Tensor hidden = model.get("layer1").output();
                if (early) {
                    return hidden;
                }
                return model.get("layer2").output();
            };

            assertCompiled(true, body);
            Tensor expected = early ? layer1Of(input) : net.forward(input);
            assertTrue(Models.same(expected, model.trace(input, body)));
        }
    }

    @Test
    void severalSuspensionsInOneExpression_keepTheStack() {
        TraceBody<List<Tensor>> body = tr -> List.of(model.get("layer1").output().sum(),
                model.get("layer1").output().sum().add(model.get("layer2").output().sum()));

        assertCompiled(true, body);
        List<Tensor> result = model.trace(input, body);
        assertTrue(Models.same(layer1Of(input).sum(), result.get(0)));
        assertTrue(Models.same(layer1Of(input).sum().add(net.forward(input).sum()), result.get(1)));
    }

    @Test
    void replacementsAndSetInput_matchPlainJava() {
        Tensor zeros = torch.zeros(1, 10);
        TraceBody<Tensor> body = tr -> {
            model.get("layer2").setInput(zeros);
            return model.get("layer2").output();
        };

        assertCompiled(true, body);
        assertTrue(Models.same(layer("layer2").forward(zeros), model.trace(input, body)));
    }

    @Test
    void nestedLoopsOverIter_visitEveryStep() {
        Models.Repeated repeated = new Models.Repeated();
        NNsight wrapped = NNsight.wrap(repeated);
        Tensor x = torch.rand(1, 4);
        TraceBody<List<Double>> body = tr -> {
            List<Double> sums = new ArrayList<>();
            for (int step : tr.iter(Steps.range(0, 3))) {
                for (int again : tr.iter(Steps.at(step))) {
                    long scale = again + 1L;
                    sums.add(wrapped.get("layer").output().sum().item_double() * scale);
                }
            }
            return sums;
        };

        assertCompiled(true, body);
        List<Double> expected = new ArrayList<>();
        Tensor hidden = x;
        for (int i = 0; i < 3; i++) {
            hidden = repeated.layer.forward(hidden);
            expected.add(hidden.sum().item_double() * (i + 1));
        }
        List<Double> sums = wrapped.trace(x, body);
        for (int i = 0; i < 3; i++) {
            assertEquals(expected.get(i), sums.get(i), 1e-5);
        }
    }

    @Test
    void invokesAndABarrier_runCompiled() {
        Tensor other = torch.rand(1, 5);
        List<Object> bodies = new ArrayList<>();
        List<Invoke<Tensor>> invokes = model.trace(tr -> {
            Barrier barrier = tr.barrier(2);
            Tensor[] clean = new Tensor[1];
            Runnable first = () -> {
                clean[0] = model.get("layer1").output().clone();
                barrier.await();
            };
            Supplier<Tensor> second = () -> {
                barrier.await();
                model.get("layer1").output().copy_(clean[0]);
                return model.get("layer2").output();
            };
            bodies.add(first);
            bodies.add(second);
            tr.invoke(input, first);
            return List.of(tr.invoke(other, second));
        });

        assertCompiled(true, bodies.get(0));
        assertCompiled(true, bodies.get(1));
        assertTrue(Models.same(net.forward(input), invokes.get(0).get()));
    }

    @Test
    void suspensionInAHelperMethod_staysOnContinuations() {
        TraceBody<Tensor> body = tr -> readLayer2();

        assertCompiled(false, body);
        assertTrue(Models.same(net.forward(input), model.trace(input, body)));
    }

    private Tensor readLayer2() {
        return model.get("layer2").output();
    }

    @Test
    void suspensionInAForEachLambda_staysOnContinuations() {
        TraceBody<List<Tensor>> body = tr -> {
            List<Tensor> outputs = new ArrayList<>();
            List.of("layer1", "layer2").forEach(path -> outputs.add(model.get(path).output()));
            return outputs;
        };

        assertCompiled(false, body);
        assertTrue(Models.same(net.forward(input), model.trace(input, body).get(1)));
    }

    @Test
    void suspensionInsideAConstructorCall_staysOnContinuations() {
        TraceBody<List<Tensor>> body = tr -> new ArrayList<>(List.of(model.get("layer2").output()));

        assertCompiled(false, body);
        assertTrue(Models.same(net.forward(input), model.trace(input, body).get(0)));
    }

    @Test
    void suspensionInASynchronizedBlock_staysOnContinuations() {
        Object lock = new Object();
        TraceBody<Tensor> body = tr -> {
            synchronized (lock) {
                return model.get("layer2").output();
            }
        };

        assertCompiled(false, body);
        if (!(Engine.current().engineFor(body.getClass()).name().equals("continuations")
                && Runtime.version().feature() < 24)) {
            assertTrue(Models.same(net.forward(input), model.trace(input, body)));
        }
    }

    @Test
    void compiledBody_runsAsWrittenOutsideATrace() {
        Supplier<String> body = () -> {
            Iterable<Integer> plain = List.of(1, 2, 3);
            StringBuilder text = new StringBuilder();
            for (int value : plain) {
                text.append(value);
            }
            return text.toString();
        };

        assertEquals("123", body.get());
    }

    @Test
    void userErrorInABody_keepsItsType() {
        TraceBody<Tensor> body = tr -> {
            Tensor hidden = model.get("layer1").output();
            if (hidden.size(1) == 10) {
                throw new IllegalStateException("width " + hidden.size(1));
            }
            return hidden;
        };

        assertCompiled(true, body);
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> model.trace(input, body));
        assertEquals("width 10", error.getMessage());
        assertEquals(StateMachineTest.class.getName(), firstUserFrame(error));
    }
}
