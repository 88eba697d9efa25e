package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import io.nnsight.nn.TensorModule;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * nnsight's {@code test_debug.py}: out-of-order reads, errors in intervention code, requests that are never
 * served; and after each, a model and wrapper that work normally.
 */
class ErrorsTest extends TinyModelFixture {
    @AfterEach
    void modelStillWorks() {
        Tensor output = model.trace(input, tr -> model.get("layer2").output());
        assertTrue(same(net.forward(input), output), "the wrapper gives wrong results after the error");
    }

    @Test
    void readingModulesOutOfOrder_failsNamingBothModules() {
        OutOfOrderException error = assertThrows(OutOfOrderException.class, () -> model.trace(input, tr -> {
            Tensor second = model.get("layer2").output();
            Tensor first = model.get("layer1").output();
            return List.of(first, second);
        }));

        assertTrue(error.getMessage().contains("the output of layer1"), error.getMessage());
        assertTrue(error.getMessage().contains("the output of layer2"), error.getMessage());
        assertTrue(error.getMessage().toLowerCase().contains("order"), error.getMessage());
    }

    @Test
    void outOfOrder_canBeCaughtByType_insideTheBody() {
        String recovered = model.trace(input, tr -> {
            model.get("layer2").output();
            try {
                model.get("layer1").output();
                return "not thrown";
            } catch (OutOfOrderException e) {
                return "caught";
            }
        });

        assertEquals("caught", recovered);
    }

    @Test
    void outOfOrder_inAnExplicitInvoke() {
        assertThrows(OutOfOrderException.class, () -> model.trace(tr -> tr.invoke(input, () -> {
            model.get("layer2").output();
            return model.get("layer1").output();
        })));
    }

    @Test
    void outOfOrder_inALoopOverModules() {
        assertThrows(OutOfOrderException.class, () -> model.trace(input, tr -> {
            List<Tensor> results = new ArrayList<>();
            for (Envoy layer : List.of(model.get("layer2"), model.get("layer1"))) {
                results.add(layer.output());
            }
            return results;
        }));
    }

    @Test
    void inputsAfterOutput_ofTheSameModule_isOutOfOrder() {
        OutOfOrderException error = assertThrows(OutOfOrderException.class, () -> model.trace(input, tr -> {
            model.get("layer1").output();
            return model.get("layer1").input();
        }));

        assertTrue(error.getMessage().contains("the inputs of layer1"), error.getMessage());
    }

    @Test
    void readingTheSameOutputTwice_isAllowed() {
        List<Tensor> both = model.trace(input, tr -> List.of(model.get("layer1").output(), model.get("layer1").output()));

        assertTrue(same(both.get(0), both.get(1)));
    }

    @Test
    void userException_keepsItsType_andItsStackTraceStartsAtTheUsersLine() {
        int[] line = new int[1];
        IndexOutOfBoundsException error = assertThrows(IndexOutOfBoundsException.class, () -> model.trace(input, tr -> {
            List<Tensor> rows = List.of(model.get("layer1").output());
            line[0] = new Throwable().getStackTrace()[0].getLineNumber() + 1;
            return rows.get(999);
        }));

        StackTraceElement userFrame = Arrays.stream(error.getStackTrace())
                .filter(frame -> frame.getClassName().startsWith(ErrorsTest.class.getName()))
                .findFirst()
                .orElseThrow();
        assertEquals(line[0], userFrame.getLineNumber());
        assertNoEngineFrames(error);
    }

    @Test
    void errorThrownByTheEngine_startsAtTheUsersLine() {
        int[] line = new int[1];
        OutOfOrderException error = assertThrows(OutOfOrderException.class, () -> model.trace(input, tr -> {
            model.get("layer2").output();
            line[0] = new Throwable().getStackTrace()[0].getLineNumber() + 1;
            return model.get("layer1").output();
        }));

        StackTraceElement top = error.getStackTrace()[0];
        assertEquals(ErrorsTest.class.getName(), top.getClassName().replaceAll("\\$.*", ""));
        assertEquals(line[0], top.getLineNumber());
    }

    @Test
    void errorInABody_continuesWithTheFramesOfTheCallerOfTrace() {
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> model.trace(input, tr -> {
            throw new IllegalStateException("boom");
        }));

        assertTrue(Arrays.stream(error.getStackTrace())
                        .anyMatch(frame -> frame.getMethodName().equals(
                                "errorInABody_continuesWithTheFramesOfTheCallerOfTrace")),
                "the caller's frames are missing: " + Arrays.toString(error.getStackTrace()));
        assertNoEngineFrames(error);
    }

    @Test
    void debugMode_keepsTheEngineFrames() {
        System.setProperty("nnsight.debug", "true");
        try {
            IllegalStateException error = assertThrows(IllegalStateException.class, () -> model.trace(input, tr -> {
                model.get("layer1").output();
                throw new IllegalStateException("boom");
            }));

            assertTrue(Arrays.stream(error.getStackTrace())
                    .anyMatch(frame -> frame.getClassName().startsWith("io.nnsight.internal.")));
        } finally {
            System.clearProperty("nnsight.debug");
        }
    }

    @Test
    void libtorchError_inABody_reachesTheCaller() {
        RuntimeException error = assertThrows(RuntimeException.class,
                () -> model.trace(input, tr -> model.get("layer1").output().select(0, 999)));

        assertTrue(error.getMessage().contains("999"), error.getMessage());
    }

    @Test
    void errorInAHelperMethod_keepsTheHelpersFrame() {
        IndexOutOfBoundsException error = assertThrows(IndexOutOfBoundsException.class,
                () -> model.trace(input, tr -> badHelper(model)));

        assertTrue(Arrays.stream(error.getStackTrace()).anyMatch(frame -> frame.getMethodName().equals("badHelper")));
    }

    private static Tensor badHelper(NNsight model) {
        return List.of(model.get("layer1").output()).get(999);
    }

    @Test
    void errorAfterSuccessfulReads_isReported() {
        assertThrows(IndexOutOfBoundsException.class, () -> model.trace(input, tr -> {
            Tensor first = model.get("layer1").output();
            long rows = first.size(0);
            return List.of(model.get("layer2").output()).get((int) rows + 998);
        }));
    }

    @Test
    void errorInTheSecondInvoke_isReported() {
        assertThrows(ArithmeticException.class, () -> model.trace(tr -> {
            tr.invoke(input, () -> model.get("layer1").output());
            tr.invoke(input, () -> {
                model.get("layer1").output();
                return 1 / (int) Math.floor(0.5);
            });
            return null;
        }));
    }

    @Test
    void replacementOfAnotherShape_failsAtTheSetter_namingTheModuleAndBothShapes() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(input, tr -> {
            model.get("layer1").setOutput(torch.zeros(1, 7));
            return model.get("layer2").output();
        }));

        assertEquals("the replacement for the output of layer1 has shape [1, 7], but the output of layer1 has shape [1, 10]",
                error.getMessage());
        assertEquals(ErrorsTest.class.getName(), error.getStackTrace()[0].getClassName(), "not at the user's setOutput");
    }

    @Test
    void replacementOfAnotherElementType_failsAtTheSetter() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(input, tr -> {
            model.get("layer1").setOutput(torch.zeros(1, 10).to(torch.ScalarType.Double));
            return model.get("layer2").output();
        }));

        assertTrue(error.getMessage().startsWith("the replacement for the output of layer1 holds Double values, but the "
                + "output of layer1 holds Float"), error.getMessage());
    }

    @Test
    void inputOfAnotherShape_failsAtTheSetter_namingTheModuleAndBothShapes() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(input, tr -> {
            model.get("layer2").setInput(torch.zeros(1, 3));
            return model.get("layer2").output();
        }));

        assertTrue(error.getMessage().contains("layer2") && error.getMessage().contains("[1, 3]")
                && error.getMessage().contains("[1, 10]"), error.getMessage());
    }

    @Test
    void tensorFreedByItsTrace_givenToSetOutput_failsSayingSo_andHowToKeepIt() {
        List<Tensor> leaked = new ArrayList<>();
        model.trace(input, tr -> leaked.add(model.get("layer1").output()));

        FreedTensorException error = assertThrows(FreedTensorException.class, () -> model.trace(input, tr -> {
            model.get("layer1").setOutput(leaked.get(0));
            return null;
        }));

        assertTrue(error.getMessage().startsWith("the tensor given to layer1.setOutput(...) was freed: a trace frees the "
                + "tensors it made when it ends"), error.getMessage());
        assertTrue(error.getMessage().contains("NNsight.save"), error.getMessage());
        assertThrows(FreedTensorException.class, () -> model.trace(leaked.get(0), tr -> null));
        assertThrows(FreedTensorException.class, () -> Tensors.floats(leaked.get(0)));
    }

    @Test
    void tensorFreedByItsTrace_usedInABody_failsWithTheReasonAsCause() {
        List<Tensor> leaked = new ArrayList<>();
        model.trace(input, tr -> leaked.add(model.get("layer1").output()));

        NullPointerException error = assertThrows(NullPointerException.class,
                () -> model.trace(input, tr -> model.get("layer1").output().add(leaked.get(0))));

        assertEquals("Pointer address of argument 0 is NULL.", error.getMessage());
        assertTrue(error.getCause() instanceof FreedTensorException, String.valueOf(error.getCause()));
    }

    @Test
    void replacingATensorByAnotherType_failsAtTheSetter() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(input, tr -> {
            model.get("layer1").setOutput("not a tensor");
            return null;
        }));

        assertTrue(error.getMessage().contains("layer1"), error.getMessage());
    }

    @Test
    void missingPath_failsAtGet_withTheCloseMatches() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> model.get("layer3"));

        assertTrue(error.getMessage().contains("'layer3'"), error.getMessage());
        assertTrue(error.getMessage().contains("layer1, layer2"), error.getMessage());
    }

    @Test
    void moduleNeverCalled_failsWithNotReached_namingIt() {
        final class WithUnused extends HookedModule implements TensorModule {
            final Linear used = register("used", new Linear(5, 2));
            final Linear unused = register("unused", new Linear(5, 2));

            @Override
            public Tensor forward(Tensor x) {
                return hooked(x, used::forward);
            }
        }
        NNsight wrapped = NNsight.wrap(new WithUnused());

        NotReachedException error = assertThrows(NotReachedException.class,
                () -> wrapped.trace(input, tr -> wrapped.get("unused").output()));

        assertTrue(error.getMessage().contains("unused"), error.getMessage());
        assertTrue(error.getMessage().contains("not called"), error.getMessage());
    }

    @Test
    void readingOutsideAnInvoke_ofATraceWithoutInput_fails() {
        TraceException error = assertThrows(TraceException.class,
                () -> model.trace(tr -> model.get("layer1").output()));

        assertTrue(error.getMessage().contains("inside an invoke"), error.getMessage());
    }

    @Test
    void traceWithoutInputOrInvokes_fails() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(tr -> null));

        assertTrue(error.getMessage().contains("no input"), error.getMessage());
    }

    @Test
    void invokeInsideAnInvoke_fails() {
        assertThrows(TraceException.class, () -> model.trace(tr -> tr.invoke(input, () -> tr.invoke(input, () -> 1))));
    }

    @Test
    void invokeInsideATraceWithInput_failsExplainingWhy() {
        TraceException error = assertThrows(TraceException.class, () -> model.trace(input, tr -> tr.invoke(input, () -> 1)));

        assertTrue(error.getMessage().contains("given an input"), error.getMessage());
    }

    @Test
    void readingOutsideATrace_fails() {
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> model.get("layer1").output());

        assertTrue(error.getMessage().contains("inside a trace"), error.getMessage());
    }

    @Test
    void failedTraces_leaveNoNativeMemoryBehind() {
        model.trace(input, tr -> model.get("layer2").output()); // warm up lazily made native objects
        long before = Pointer.totalCount();
        for (int i = 0; i < 50; i++) {
            assertThrows(OutOfOrderException.class, () -> model.trace(input, tr -> {
                model.get("layer2").output().mul(new org.bytedeco.pytorch.Scalar(2.0));
                return model.get("layer1").output();
            }));
        }

        assertFalse(Pointer.totalCount() > before, "native objects grew from " + before + " to " + Pointer.totalCount());
    }

    private static void assertNoEngineFrames(Throwable error) {
        for (StackTraceElement frame : error.getStackTrace()) {
            assertFalse(frame.getClassName().startsWith("io.nnsight.internal.")
                    || frame.getClassName().startsWith("io.nnsight.spi.statemachine."), "engine frame left: " + frame);
        }
    }
}
