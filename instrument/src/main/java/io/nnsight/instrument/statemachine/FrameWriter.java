package io.nnsight.instrument.statemachine;

import java.util.LinkedHashSet;
import java.util.Set;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.tree.ClassNode;

/**
 * Computes stack map frames, finding common superclasses in the class files of the application's class
 * loader ({@link ClassHierarchy}); the class being rewritten through its own class node.
 */
final class FrameWriter extends ClassWriter {
    private final ClassNode node;
    private final ClassHierarchy hierarchy;

    FrameWriter(ClassNode node, ClassHierarchy hierarchy) {
        super(ClassWriter.COMPUTE_FRAMES);
        this.node = node;
        this.hierarchy = hierarchy;
    }

    @Override
    protected String getCommonSuperClass(String a, String b) {
        if (a.equals(b)) {
            return a;
        }
        if (isInterface(a) || isInterface(b)) {
            return "java/lang/Object";
        }
        Set<String> supersOfA = new LinkedHashSet<>();
        for (String type = a; type != null; type = superOf(type)) {
            supersOfA.add(type);
        }
        for (String type = b; type != null; type = superOf(type)) {
            if (supersOfA.contains(type)) {
                return type;
            }
        }
        return "java/lang/Object";
    }

    private boolean isInterface(String type) {
        return type.equals(node.name) ? (node.access & Opcodes.ACC_INTERFACE) != 0 : hierarchy.isInterface(type);
    }

    private String superOf(String type) {
        return type.equals(node.name) ? node.superName : hierarchy.superName(type);
    }
}
