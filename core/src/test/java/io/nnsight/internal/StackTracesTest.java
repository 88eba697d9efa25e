package io.nnsight.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class StackTracesTest {
    private static StackTraceElement frame(String type, String method) {
        return new StackTraceElement(type, method, type + ".java", 1);
    }

    @Test
    void clean_removesEngineFrames_andAppendsTheCallerOfABody() {
        RuntimeException error = new RuntimeException("boom");
        error.setStackTrace(new StackTraceElement[] {
            frame("io.nnsight.internal.Mediator", "exchange"),
            frame("io.nnsight.Envoy", "output"),
            frame("com.example.Study", "lambda$run$0"),
            frame("io.nnsight.internal.TraceRun", "runBody"),
            frame("io.nnsight.internal.engine.ThreadEngine$ThreadCoroutine", "run"),
            frame("java.lang.Thread", "run")
        });
        StackTraceElement[] caller = {
            frame("io.nnsight.internal.TraceRun", "execute"), frame("io.nnsight.NNsight", "trace"),
            frame("com.example.Study", "run"), frame("com.example.Study", "main")
        };

        StackTraces.clean(error, caller);

        assertArrayEquals(new StackTraceElement[] {
            frame("com.example.Study", "lambda$run$0"), frame("com.example.Study", "run"), frame("com.example.Study", "main")
        }, error.getStackTrace());
    }

    @Test
    void clean_treatsAStateMachinesFramesAsTheEngines() {
        RuntimeException error = new RuntimeException("boom");
        error.setStackTrace(new StackTraceElement[] {
            frame("com.example.Study", "lambda$run$0"),
            frame("io.nnsight.spi.statemachine.StateMachine", "resume"),
            frame("io.nnsight.internal.Mediator", "resume"),
            frame("com.example.Study", "run")
        });
        StackTraceElement[] caller = {frame("com.example.Study", "main")};

        StackTraces.clean(error, caller);

        assertArrayEquals(new StackTraceElement[] {
            frame("com.example.Study", "lambda$run$0"), frame("com.example.Study", "run"), frame("com.example.Study", "main")
        }, error.getStackTrace());
    }

    @Test
    void clean_keepsAModelErrorsOwnFrames_withoutTheCaller() {
        RuntimeException error = new RuntimeException("shape");
        error.setStackTrace(new StackTraceElement[] {
            frame("org.bytedeco.pytorch.global.torch", "linear"),
            frame("io.nnsight.nn.Linear", "lambda$forward$0"),
            frame("io.nnsight.spi.HookPoint", "call"),
            frame("com.example.Study", "main")
        });

        StackTraces.clean(error, new StackTraceElement[] {frame("com.example.Study", "main")});

        assertEquals(3, error.getStackTrace().length);
        assertEquals("io.nnsight.nn.Linear", error.getStackTrace()[1].getClassName());
    }

    @Test
    void clean_keepsTheFramesBelowTheCallOfTrace_asTheyWere_forLaunchersThatCountThem() {
        // java Foo.java cuts as many frames off the bottom as its own call of main has: reflection included.
        StackTraceElement[] below = {
            frame("Foo", "main"), frame("jdk.internal.reflect.DirectMethodHandleAccessor", "invoke"),
            frame("java.lang.reflect.Method", "invoke"), frame("com.sun.tools.javac.launcher.SourceLauncher", "execute")
        };
        RuntimeException body = new RuntimeException("boom");
        body.setStackTrace(new StackTraceElement[] {
            frame("Foo", "lambda$main$0"), frame("io.nnsight.internal.engine.ContinuationEngine$Body", "run"),
            frame("jdk.internal.vm.Continuation", "enter")
        });
        StackTraceElement[] caller = new StackTraceElement[below.length + 2];
        caller[0] = frame("io.nnsight.internal.TraceRun", "execute");
        caller[1] = frame("io.nnsight.NNsight", "trace");
        System.arraycopy(below, 0, caller, 2, below.length);
        RuntimeException model = new RuntimeException("shape");
        model.setStackTrace(new StackTraceElement[] {
            frame("io.nnsight.nn.Linear", "compute"), frame("io.nnsight.spi.HookPoint", "call"),
            frame("java.lang.invoke.LambdaForm$DMH", "invoke"), frame("io.nnsight.internal.TraceRun", "execute"),
            frame("io.nnsight.NNsight", "trace"), below[0], below[1], below[2], below[3]
        });

        StackTraces.clean(body, caller);
        StackTraces.clean(model, caller);

        assertArrayEquals(new StackTraceElement[] {frame("Foo", "lambda$main$0"), below[0], below[1], below[2], below[3]},
                body.getStackTrace());
        assertArrayEquals(new StackTraceElement[] {frame("io.nnsight.nn.Linear", "compute"), below[0], below[1], below[2],
            below[3]}, model.getStackTrace());
    }

    @Test
    void clean_endsABodysFramesAtTheEngineThatCalledIt_notAtOneItCalled() {
        RuntimeException error = new RuntimeException("pinned");
        error.setStackTrace(new StackTraceElement[] {
            frame("io.nnsight.internal.engine.ContinuationEngine", "suspend"),
            frame("io.nnsight.internal.Mediator", "exchange"),
            frame("Foo", "lambda$main$0"),
            frame("io.nnsight.internal.engine.StateMachineEngine", "resume"),
            frame("io.nnsight.internal.Interleaver", "call"),
            frame("io.nnsight.nn.Linear", "compute"),
            frame("Foo", "main")
        });

        StackTraces.clean(error, new StackTraceElement[] {frame("io.nnsight.NNsight", "trace"), frame("Foo", "main")});

        assertArrayEquals(new StackTraceElement[] {frame("Foo", "lambda$main$0"), frame("Foo", "main")}, error.getStackTrace());
    }

    @Test
    void isHidden_doesNotHideClassesThatMerelyShareAPrefix() {
        assertEquals(false, StackTraces.isHidden(frame("io.nnsight.EnvoyTest", "test")));
        assertEquals(true, StackTraces.isHidden(frame("io.nnsight.Envoy$1", "x")));
    }
}
