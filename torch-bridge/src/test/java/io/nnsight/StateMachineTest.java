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
    void editBody_runsCompiled_beforeTheTracesOwnBody() {
        TraceBody<Object> doubling = tr -> {
            Tensor hidden = model.get("layer1").output();
            hidden.mul_(new Scalar(2));
            return null;
        };
        NNsight edited = model.edit(doubling);

        Tensor seen = edited.trace(input, tr -> model.get("layer1").output().clone());

        assertCompiled(true, doubling);
        assertTrue(Models.same(layer1Of(input).mul(new Scalar(2)), seen));
        assertTrue(Models.same(layer1Of(input), model.trace(input, tr -> model.get("layer1").output())));
    }

    @Test
    void suspensionInAHelperMethod_runsCompiled() {
        TraceBody<Tensor> body = tr -> readLayer2();

        assertCompiled(true, body);
        assertTrue(Models.same(net.forward(input), model.trace(input, body)));
    }

    private Tensor readLayer2() {
        return model.get("layer2").output();
    }

    @Test
    void helperWithTwoSuspensions_keepsBothFramesLocals() {
        TraceBody<Double> body = tr -> {
            long big = 1L << 40;
            float third = 1f / 3;
            double both = sumsOfBoth(3);
            return big + third + both;
        };

        assertCompiled(true, body);
        double expected = (1L << 40) + 1f / 3 + 3 * (layer1Of(input).sum().item_double()
                + 0.5 + net.forward(input).sum().item_double());
        assertEquals(expected, model.trace(input, body), 1e-3);
    }

    /** A helper returning a {@code double} (two slots), with locals of its own on both sides of two suspensions. */
    private double sumsOfBoth(int times) {
        double half = 0.5;
        double first = model.get("layer1").output().sum().item_double();
        long count = times;
        double second = model.get("layer2").output().sum().item_double();
        return count * (first + half + second);
    }

    @Test
    void helperCallingAHelper_resumesEveryFrame() {
        TraceBody<List<Double>> body = tr -> {
            List<Double> sums = new ArrayList<>();
            sums.add(-1.0);
            sums.add(scaledSums(model, 2));
            return sums;
        };

        assertCompiled(true, body);
        double expected = 2 * (layer1Of(input).sum().item_double() + net.forward(input).sum().item_double());
        List<Double> sums = model.trace(input, body);
        assertEquals(-1.0, sums.get(0));
        assertEquals(expected, sums.get(1), 1e-4);
    }

    private static double scaledSums(NNsight model, int scale) {
        double first = outputSum(model, "layer1");
        return scale * (first + outputSum(model, "layer2"));
    }

    private static double outputSum(NNsight model, String path) {
        return model.get(path).output().sum().item_double();
    }

    @Test
    void helperUsedByTwoLambdasAndTwice_runsCompiledEverywhere() {
        TraceBody<Tensor> twice = tr -> readLayer1().add(readLayer1());
        TraceBody<Tensor> other = tr -> readLayer1().mul(new Scalar(3)).add(readLayer2().sum());

        assertCompiled(true, twice);
        assertCompiled(true, other);
        assertTrue(Models.same(layer1Of(input).add(layer1Of(input)), model.trace(input, twice)));
        assertTrue(Models.same(layer1Of(input).mul(new Scalar(3)).add(net.forward(input).sum()),
                model.trace(input, other)));
    }

    private Tensor readLayer1() {
        return model.get("layer1").output();
    }

    @Test
    void compiledHelper_runsAsWrittenOutsideATrace() {
        TraceBody<String> body = tr -> maybeRead(model, true);

        assertCompiled(true, body);
        assertEquals("not read", maybeRead(model, false));
        assertEquals("read " + net.forward(input).size(1), model.trace(input, body));
        assertEquals("not read", maybeRead(model, false));
    }

    private static String maybeRead(NNsight model, boolean read) {
        String text = "not read";
        if (read) {
            text = "read " + model.get("layer2").output().size(1);
        }
        return text;
    }

    @Test
    void helperInsideAnIterLoop_visitsEveryStep() {
        Models.Repeated repeated = new Models.Repeated();
        NNsight wrapped = NNsight.wrap(repeated);
        Tensor x = torch.rand(1, 4);
        TraceBody<List<Double>> body = tr -> {
            List<Double> sums = new ArrayList<>();
            for (int step : tr.iter(Steps.range(0, 3))) {
                sums.add(scaledLayerSum(wrapped, step + 1L));
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
        assertEquals(3, sums.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(expected.get(i), sums.get(i), 1e-5);
        }
    }

    private static double scaledLayerSum(NNsight wrapped, long scale) {
        return wrapped.get("layer").output().sum().item_double() * scale;
    }

    @Test
    void iterLoopInsideAHelperCatchingThrowable_visitsEveryStep() {
        Models.Repeated repeated = new Models.Repeated();
        NNsight wrapped = NNsight.wrap(repeated);
        Tensor x = torch.rand(1, 4);
        TraceBody<List<Double>> body = tr -> loopedSums(tr, wrapped);

        assertCompiled(true, body);
        List<Double> expected = new ArrayList<>();
        Tensor hidden = x;
        for (int i = 0; i < 3; i++) {
            hidden = repeated.layer.forward(hidden);
            expected.add(hidden.sum().item_double());
        }
        List<Double> sums = wrapped.trace(x, body);
        assertEquals(3, sums.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(expected.get(i), sums.get(i), 1e-5);
        }
    }

    private static List<Double> loopedSums(Tracer tr, NNsight wrapped) {
        List<Double> sums = new ArrayList<>();
        try {
            for (int step : tr.iter(Steps.range(0, 3))) {
                sums.add(scaledLayerSum(wrapped, 1));
            }
        } catch (Throwable e) {
            sums.add(Double.NaN);
        }
        return sums;
    }

    @Test
    void helperWithTryFinallyAroundItsSuspensions_runsTheFinallyOnce() {
        TraceBody<Tensor> body = tr -> {
            Tensor result = guardedSum();
            return result.add(model.get("layer2").output().sum());
        };

        assertCompiled(true, body);
        Tensor expected = layer1Of(input).add(net.forward(input).sum()).add(net.forward(input).sum());
        assertTrue(Models.same(expected, model.trace(input, body)));
        assertEquals(1, finallyRuns.get());
    }

    private Tensor guardedSum() {
        try {
            Tensor first = model.get("layer1").output();
            return first.add(model.get("layer2").output().sum());
        } finally {
            finallyRuns.incrementAndGet();
        }
    }

    @Test
    void errorOfARequestInAHelper_isCaughtInTheLambda() {
        TraceBody<String> body = tr -> {
            try {
                readOutOfOrder();
                return "not thrown";
            } catch (OutOfOrderException e) {
                return "caught after " + model.get("layer2").path() + ", " + finallyRuns.get() + " finally";
            }
        };

        assertCompiled(true, body);
        assertEquals("caught after layer2, 1 finally", model.trace(input, body));
        assertEquals(1, finallyRuns.get());
    }

    private Tensor readOutOfOrder() {
        try {
            model.get("layer2").output();
            return model.get("layer1").output();
        } finally {
            finallyRuns.incrementAndGet();
        }
    }

    @Test
    void bodyCancelledInsideAHelper_runsBothFinallysOnce() {
        AtomicInteger lambdaFinally = new AtomicInteger();
        TraceBody<Tensor> body = tr -> {
            try {
                return readPastTheEnd(tr);
            } finally {
                lambdaFinally.incrementAndGet();
            }
        };

        assertCompiled(true, body);
        assertThrows(NotReachedException.class, () -> model.trace(input, body));
        assertEquals(1, finallyRuns.get());
        assertEquals(1, lambdaFinally.get());
    }

    private Tensor readPastTheEnd(Tracer tr) {
        try {
            model.get("layer2").output();
            tr.next();
            return model.get("layer2").output();
        } finally {
            finallyRuns.incrementAndGet();
        }
    }

    @Test
    void suspensionInARecursiveHelper_runsCompiled() {
        TraceBody<Tensor> body = tr -> readRecursively(2);

        assertCompiled(true, body);
        assertTrue(Models.same(net.forward(input), model.trace(input, body)));
    }

    private Tensor readRecursively(int depth) {
        return depth == 0 ? model.get("layer2").output() : readRecursively(depth - 1);
    }

    @Test
    void helperOfAnotherClass_runsCompiled() {
        TraceBody<Double> body = tr -> Readers.outputSum(model, "layer1") + Readers.outputSum(model, "layer2");

        assertCompiled(true, body);
        assertEquals(sum(layer1Of(input)) + sum(net.forward(input)), model.trace(input, body), 1e-4);
    }

    private static double sum(Tensor tensor) {
        return tensor.sum().item_double();
    }

    @Test
    void recursiveHelperOfAnotherClass_suspendingAtEveryLevel_resumesEveryFrame() {
        String[] paths = {"layer1", "layer2"};
        TraceBody<Double> body = tr -> Readers.depthWeighted(model, paths, 0);

        assertCompiled(true, body);
        assertEquals(sum(layer1Of(input)) + 2 * sum(net.forward(input)), model.trace(input, body), 1e-4);
    }

    @Test
    void recursionAcrossTwoClasses_resumesEveryFrame() {
        String[] paths = {"layer1", "layer2"};
        TraceBody<Double> body = tr -> Readers.ping(model, paths, 0);

        assertCompiled(true, body);
        assertEquals(sum(layer1Of(input)) - 2 * sum(net.forward(input)), model.trace(input, body), 1e-4);
    }

    @Test
    void instanceMethodOfAFinalClass_runsCompiledAndItsFinallyOnce() {
        Readers readers = new Readers(model, finallyRuns);
        TraceBody<Double> body = tr -> readers.bothInFinally();

        assertCompiled(true, body);
        assertEquals(sum(layer1Of(input)) + sum(net.forward(input)), model.trace(input, body), 1e-4);
        assertEquals(1, finallyRuns.get());
    }

    @Test
    void errorOfARequestInAnotherClassesHelper_isCaughtInTheBody() {
        Readers readers = new Readers(model, finallyRuns);
        TraceBody<String> body = tr -> {
            try {
                return "read " + readers.outOfOrder();
            } catch (OutOfOrderException e) {
                return "caught";
            }
        };

        assertCompiled(true, body);
        assertEquals("caught", model.trace(input, body));
    }

    @Test
    void overridableMethodOfAnotherClass_staysOnContinuations() {
        Readers.Overridable reader = new Readers.Overridable();
        TraceBody<Tensor> body = tr -> reader.read(model, "layer2");

        assertCompiled(false, body);
        assertTrue(Models.same(net.forward(input), model.trace(input, body)));
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
