package io.nnsight.instrument.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.models.CrossClassBodies;
import io.nnsight.models.Probes;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.tree.analysis.AnalyzerException;

/**
 * The call graph's decisions, read from the class files of {@code io.nnsight.models}: which bodies and
 * helpers are compiled, across classes and through recursion, and why the others are not.
 */
class CallGraphTest {
    private static final ClassLoader LOADER = CallGraphTest.class.getClassLoader();

    private static CallGraph settled(Class<?> type) throws IOException, AnalyzerException {
        String name = type.getName().replace('.', '/');
        byte[] bytes;
        try (InputStream in = LOADER.getResourceAsStream(name + ".class")) {
            bytes = in.readAllBytes();
        }
        ClassHierarchy hierarchy = new ClassHierarchy(LOADER);
        StateMachineCompiler compiler = new StateMachineCompiler(new CompiledClassCache(null));
        CallGraph graph = new CallGraph(LOADER, hierarchy, call -> compiler.isSite(call, hierarchy), bytes, Set.of());
        graph.settle();
        assertNull(graph.rewrite(), "every rewrite verifies");
        return graph;
    }

    /** The lambda made in {@code factory}, or the method named {@code factory}, of the graph's own class. */
    private static CallGraph.Method method(CallGraph graph, String factory) {
        for (CallGraph.Method method : graph.selfMethods()) {
            if (method.node.name.startsWith("lambda$" + factory + "$")) {
                return method;
            }
        }
        for (CallGraph.Method method : graph.selfMethods()) {
            if (method.node.name.equals(factory)) {
                return method;
            }
        }
        throw new AssertionError("no method " + factory);
    }

    @Test
    void bodyCallingAStaticHelperOfAnotherClass_isCompiled() throws Exception {
        CallGraph graph = settled(CrossClassBodies.class);
        CallGraph.Method body = method(graph, "viaStaticHelper");

        assertTrue(body.compiled(), body.refusal);
        assertEquals(1, body.helperPoints.size());
        assertTrue(graph.dependencies().containsKey("io/nnsight/models/Probes"));
    }

    @Test
    void bodyCallingARecursiveHelper_isCompiled() throws Exception {
        CallGraph.Method body = method(settled(CrossClassBodies.class), "viaRecursiveHelper");

        assertTrue(body.compiled(), body.refusal);
    }

    @Test
    void bodyCallingMutuallyRecursiveHelpersOfTwoClasses_isCompiled() throws Exception {
        CallGraph graph = settled(CrossClassBodies.class);

        assertTrue(method(graph, "viaMutualRecursion").compiled(), method(graph, "viaMutualRecursion").refusal);
        assertTrue(graph.dependencies().containsKey("io/nnsight/models/Probes$Pong"));
    }

    @Test
    void helpersClass_comesToTheSameDecisionsWhenItLoads() throws Exception {
        CallGraph probes = settled(Probes.class);
        CallGraph pong = settled(Probes.Pong.class);

        assertTrue(method(probes, "read").compiled());
        assertTrue(method(probes, "readDown").compiled());
        assertTrue(method(probes, "ping").compiled());
        assertTrue(method(pong, "pong").compiled());
        assertFalse(method(probes, "readLocked").compiled());
        assertFalse(method(probes, "pathOf").suspending);
    }

    @Test
    void bodyCallingASynchronizedHelper_staysAsWrittenAndSaysWhy() throws Exception {
        CallGraph.Method body = method(settled(CrossClassBodies.class), "viaSynchronizedHelper");

        assertFalse(body.compiled());
        assertEquals("it calls Probes.readLocked, which may suspend but is not compiled: it is synchronized",
                body.refusal);
    }

    @Test
    void bodyCallingAnOverridableMethod_staysAsWrittenAndSaysWhy() throws Exception {
        CallGraph.Method body = method(settled(CrossClassBodies.class), "viaOverridableMethod");

        assertFalse(body.compiled());
        assertEquals("it calls Probes$Overridable.read, which a subclass may override", body.refusal);
    }

    @Test
    void helperThatNeverSuspends_isAPlainCall() throws Exception {
        CallGraph.Method body = method(settled(CrossClassBodies.class), "viaHelperThatNeverSuspends");

        assertTrue(body.compiled(), body.refusal);
        assertEquals(1, body.points.size());
        assertTrue(body.helperPoints.isEmpty());
    }

    @Test
    void bodyMakingASuspendingForEachLambda_staysAsWrittenAndSaysWhy() throws Exception {
        CallGraph.Method body = method(settled(CrossClassBodies.class), "viaForEach");

        assertFalse(body.compiled());
        assertNotNull(body.refusal);
        assertTrue(body.refusal.startsWith("it makes a lambda (lambda$viaForEach$"), body.refusal);
    }
}
