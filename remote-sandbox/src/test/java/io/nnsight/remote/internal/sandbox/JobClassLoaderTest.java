package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.nnsight.NNsight;
import io.nnsight.remote.internal.allowlist.Reason;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

class JobClassLoaderTest {
    private final JobClassLoader loader = new JobClassLoader(
            Sandbox.server().prepare(ClassFiles.of(Benign.Point.class)).classes(), getClass().getClassLoader());

    @Test
    void loadClass_allowedServerClass_isTheServers() throws Exception {
        assertSame(ArrayList.class, loader.loadClass("java.util.ArrayList"));
        assertSame(NNsight.class, loader.loadClass("io.nnsight.NNsight"));
        assertSame(Tensor.class, Class.forName("org.bytedeco.pytorch.Tensor", false, loader));
    }

    @Test
    void loadClass_shippedClass_isDefinedByTheJobsLoader() throws Exception {
        Class<?> point = loader.loadClass(Benign.Point.class.getName());

        assertSame(loader, point.getClassLoader());
        assertSame(point, loader.loadClass(Benign.Point.class.getName()));
    }

    @Test
    void loadClass_refusedServerClass_failsSayingWhy() {
        ClassNotFoundException thread = assertThrows(ClassNotFoundException.class,
                () -> Class.forName("java.lang.Thread", false, loader));
        ClassNotFoundException internal = assertThrows(ClassNotFoundException.class,
                () -> loader.loadClass("io.nnsight.internal.TraceRun"));

        assertEquals("java.lang.Thread is not available to shipped code: " + Reason.THREADS, thread.getMessage());
        assertEquals("io.nnsight.internal.TraceRun is not available to shipped code: " + Reason.NNSIGHT_INTERNALS,
                internal.getMessage());
    }

    @Test
    void loadClass_whatTheJvmLinksForShippedCode_isTheServers() throws Exception {
        assertSame(Deadline.class, loader.loadClass(Deadline.class.getName()));
        assertSame(java.lang.invoke.LambdaMetafactory.class, loader.loadClass("java.lang.invoke.LambdaMetafactory"));
    }

    @Test
    void resources_areNotAvailable() throws Exception {
        assertNull(loader.getResource("java/lang/Object.class"));
        assertNull(loader.getResourceAsStream(Benign.Point.class.getName().replace('.', '/') + ".class"));
        assertFalse(loader.getResources("META-INF/MANIFEST.MF").hasMoreElements());
    }

    @Test
    void loader_copiesTheClassesItIsGiven() throws Exception {
        Map<String, byte[]> classes = new HashMap<>(Sandbox.server().prepare(ClassFiles.of(Benign.Point.class)).classes());
        JobClassLoader own = new JobClassLoader(classes, getClass().getClassLoader());
        classes.clear();

        assertEquals(Benign.Point.class.getName(), own.loadClass(Benign.Point.class.getName()).getName());
    }
}
