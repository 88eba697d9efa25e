package io.nnsight.remote.internal.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.FieldVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.ClassNode;

class ClassPlanTest {
    private static final String PROBE = Probe.class.getName();

    /** An application class (it comes from a class path folder), whose code reads one of its static fields. */
    static final class Probe {
        static int calls;

        int call() {
            return ++calls;
        }
    }

    @Test
    void of_sameClassTwice_plansOnce() {
        ClassPlan first = ClassPlan.of(graphOf(Probe.class), Probe.class.getClassLoader());
        ClassPlan second = ClassPlan.of(graphOf(Probe.class), Probe.class.getClassLoader());

        assertSame(first, second);
        assertEquals(Set.of(PROBE), first.classFiles().keySet());
        assertEquals(Map.of(Type.getInternalName(Probe.class), Set.of("calls")), first.staticFields());
    }

    @Test
    void staticValue_ofAReusedPlan_readsTheFieldsCurrentValue() {
        String owner = Type.getInternalName(Probe.class);
        Probe.calls = 5;
        assertEquals(5, ClassPlan.of(graphOf(Probe.class), Probe.class.getClassLoader()).staticValue(owner, "calls"));

        Probe.calls = 7;
        assertEquals(7, ClassPlan.of(graphOf(Probe.class), Probe.class.getClassLoader()).staticValue(owner, "calls"));
    }

    @Test
    void of_sameNameInAnotherLoader_getsAPlanOfItsOwnClassFile(@TempDir Path folder) throws Exception {
        Path file = folder.resolve(Type.getInternalName(Probe.class) + ".class");
        Files.createDirectories(file.getParent());
        Files.write(file, withField(classFile(Probe.class), "changed"));
        try (URLClassLoader other = new URLClassLoader(new URL[] {folder.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            Class<?> changed = Class.forName(PROBE, false, other);
            assertNotSame(Probe.class, changed);

            ClassPlan here = ClassPlan.of(graphOf(Probe.class), Probe.class.getClassLoader());
            ClassPlan there = ClassPlan.of(graphOf(changed), other);

            assertNotSame(here, there);
            assertFalse(fieldNames(here.classFiles().get(PROBE)).contains("changed"));
            assertTrue(fieldNames(there.classFiles().get(PROBE)).contains("changed"));
            assertSame(there, ClassPlan.of(graphOf(changed), other));
        }
    }

    private static GraphClasses graphOf(Class<?> type) {
        GraphClasses graph = new GraphClasses();
        graph.instanceOf(type);
        return graph;
    }

    private static byte[] classFile(Class<?> type) throws IOException {
        try (InputStream in = type.getClassLoader().getResourceAsStream(Type.getInternalName(type) + ".class")) {
            return in.readAllBytes();
        }
    }

    private static byte[] withField(byte[] classFile, String name) {
        ClassWriter writer = new ClassWriter(0);
        new ClassReader(classFile).accept(new ClassVisitor(Opcodes.ASM9, writer) {
            @Override
            public void visitEnd() {
                FieldVisitor field = cv.visitField(Opcodes.ACC_STATIC, name, "I", null, null);
                field.visitEnd();
                super.visitEnd();
            }
        }, 0);
        return writer.toByteArray();
    }

    private static Set<String> fieldNames(byte[] classFile) {
        ClassNode node = new ClassNode();
        new ClassReader(classFile).accept(node, 0);
        return Set.copyOf(node.fields.stream().map(field -> field.name).toList());
    }
}
