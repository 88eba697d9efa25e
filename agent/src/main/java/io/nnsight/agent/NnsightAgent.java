package io.nnsight.agent;

import java.lang.instrument.Instrumentation;
import java.util.Map;
import java.util.Set;

/**
 * The nnsight agent: {@code java -javaagent:nnsight-agent.jar ...}.
 *
 * <p>At start-up it
 *
 * <ul>
 *   <li>exports {@code jdk.internal.vm} to the application's class path, so that nnsight runs intervention
 *       bodies as JDK continuations on the model's thread (JDK 21+; on older JDKs bodies keep running on
 *       threads);
 *   <li>installs the transforms of {@code nnsight-instrument}: plain Bytedeco {@code Module} subclasses
 *       and their calls to native modules become traceable with no change to their code.
 * </ul>
 *
 * <p>The agent never throws into the application: if nnsight is not on the class path, or a step fails, it
 * prints one line to standard error and the application runs without it. It also serves as {@code
 * Launcher-Agent-Class}, so an application jar that includes it starts it without a flag.
 */
public final class NnsightAgent {
    private NnsightAgent() {}

    /** Entry point of {@code -javaagent}. */
    public static void premain(String arguments, Instrumentation instrumentation) {
        install(instrumentation);
    }

    /** Entry point of a dynamic attach and of {@code Launcher-Agent-Class}. */
    public static void agentmain(String arguments, Instrumentation instrumentation) {
        install(instrumentation);
    }

    private static void install(Instrumentation instrumentation) {
        try {
            openContinuations(instrumentation);
        } catch (Throwable e) {
            System.err.println("[nnsight-agent] JDK continuations stay closed (" + e + "); bodies run on threads");
        }
        try {
            Class.forName("io.nnsight.instrument.Instrumenter", true, NnsightAgent.class.getClassLoader())
                    .getMethod("install", Instrumentation.class)
                    .invoke(null, instrumentation);
        } catch (Throwable e) {
            Throwable cause = e instanceof java.lang.reflect.InvocationTargetException ? e.getCause() : e;
            System.err.println("[nnsight-agent] not installed: " + cause
                    + (cause instanceof NoClassDefFoundError ? " (is nnsight-core on the class path?)" : ""));
        }
    }

    /** Exports {@code jdk.internal.vm} (where {@code Continuation} lives, JDK 21+) to the class path's classes. */
    private static void openContinuations(Instrumentation instrumentation) {
        Module base = Object.class.getModule();
        if (!base.getPackages().contains("jdk.internal.vm")) {
            return;
        }
        try {
            Class.forName("jdk.internal.vm.Continuation");
        } catch (ClassNotFoundException e) {
            return; // before JDK 21: nothing to open
        }
        Module application = ClassLoader.getSystemClassLoader().getUnnamedModule();
        instrumentation.redefineModule(base, Set.of(), Map.of("jdk.internal.vm", Set.of(application)), Map.of(),
                Set.of(), Map.of());
    }
}
