package io.nnsight.instrument.statemachine;

import java.util.List;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.analysis.BasicValue;
import org.objectweb.asm.tree.analysis.SimpleVerifier;

/**
 * Checks types as ASM's {@link SimpleVerifier} does, but learns other classes' superclasses and interfaces
 * from their class files ({@link ClassHierarchy}) rather than by loading them from inside a transform.
 */
final class HierarchyVerifier extends SimpleVerifier {
    private static final Type OBJECT = Type.getObjectType("java/lang/Object");
    private final Type current;
    private final Type currentSuper;
    private final List<Type> currentInterfaces;
    private final boolean currentIsInterface;
    private final ClassHierarchy hierarchy;

    HierarchyVerifier(ClassNode node, List<Type> interfaces, ClassHierarchy hierarchy) {
        super(Opcodes.ASM9, Type.getObjectType(node.name),
                node.superName == null ? null : Type.getObjectType(node.superName), interfaces,
                (node.access & Opcodes.ACC_INTERFACE) != 0);
        this.current = Type.getObjectType(node.name);
        this.currentSuper = node.superName == null ? null : Type.getObjectType(node.superName);
        this.currentInterfaces = interfaces;
        this.currentIsInterface = (node.access & Opcodes.ACC_INTERFACE) != 0;
        this.hierarchy = hierarchy;
    }

    @Override
    protected boolean isSubTypeOf(BasicValue value, BasicValue expected) {
        Type expectedType = expected.getType();
        Type type = value.getType();
        if (isReference(expectedType) && isReference(type) && !"Lnull;".equals(type.getDescriptor())
                && !isAssignableFrom(expectedType, type)) {
            // as ASM's verifier: any reference passes for an interface (the JVM checks those at run time)
            return expectedType.getSort() == Type.OBJECT && isInterface(expectedType);
        }
        return super.isSubTypeOf(value, expected);
    }

    @Override
    protected boolean isInterface(Type type) {
        if (type.equals(current)) {
            return currentIsInterface;
        }
        return type.getSort() == Type.OBJECT && hierarchy.isInterface(type.getInternalName());
    }

    @Override
    protected Type getSuperClass(Type type) {
        if (type.equals(current)) {
            return currentSuper;
        }
        if (type.getSort() == Type.ARRAY) {
            return OBJECT;
        }
        String superName = hierarchy.superName(type.getInternalName());
        return superName == null ? null : Type.getObjectType(superName);
    }

    @Override
    protected boolean isAssignableFrom(Type type1, Type type2) {
        if (type1.equals(type2) || type1.equals(OBJECT) && isReference(type2)) {
            return true;
        }
        if (type2.getSort() == Type.ARRAY) {
            if (type1.getSort() == Type.OBJECT) {
                return type1.getInternalName().equals("java/lang/Cloneable")
                        || type1.getInternalName().equals("java/io/Serializable");
            }
            if (type1.getSort() != Type.ARRAY) {
                return false;
            }
            Type element1 = Type.getType(type1.getDescriptor().substring(1));
            Type element2 = Type.getType(type2.getDescriptor().substring(1));
            return isReference(element1) && isReference(element2) ? isAssignableFrom(element1, element2)
                    : element1.equals(element2);
        }
        if (type1.getSort() != Type.OBJECT || type2.getSort() != Type.OBJECT) {
            return false;
        }
        if (type2.equals(current)) {
            if (currentSuper != null && isAssignableFrom(type1, currentSuper)) {
                return true;
            }
            for (Type face : currentInterfaces) {
                if (isAssignableFrom(type1, face)) {
                    return true;
                }
            }
            return false;
        }
        return hierarchy.isSubtype(type2.getInternalName(), type1.getInternalName());
    }

    private static boolean isReference(Type type) {
        return type.getSort() == Type.OBJECT || type.getSort() == Type.ARRAY;
    }
}
