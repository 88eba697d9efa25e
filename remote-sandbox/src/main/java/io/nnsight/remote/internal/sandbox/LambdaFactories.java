package io.nnsight.remote.internal.sandbox;

import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.LambdaSpec;
import java.lang.invoke.CallSite;
import java.lang.invoke.LambdaMetafactory;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandleInfo;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Makes a job's shipped lambdas on the server. A lambda's own class cannot travel (the JDK makes it at
 * run time), and shipped classes are sliced without the {@code $deserializeLambda$} that Java
 * serialization would call; so, after the sandbox has checked the shipped classes, the server adds to the
 * class of each lambda's implementation a factory method of its own making:
 *
 * <pre>{@code
 * private static TraceBody $nnsight$lambda$0(LanguageModel lm) {
 *     return invokedynamic LambdaMetafactory.metafactory(...lambda$main$0...)(lm);   // as javac would
 * }
 * }</pre>
 *
 * and reads the graph's lambdas by calling it with their captured values.
 *
 * <p>The factories are added before the sandbox checks the classes ({@link #addTo}), so the check vets a
 * factory's {@code invokedynamic} as it vets javac's own: its functional interface, its types, and the
 * implementation method, resolved as the JVM will resolve it. What a request says about a lambda is not
 * trusted otherwise either: its implementation must be a method that the shipped class itself declares, of
 * the kind the request names (a static method for {@code invokeStatic}, an instance method for {@code
 * invokeVirtual}...), so a request cannot bind a lambda to a method the class inherits from a server class.
 */
public final class LambdaFactories implements LambdaFactory {
    private static final String PREFIX = "$nnsight$lambda$";
    private static final Handle METAFACTORY = new Handle(Opcodes.H_INVOKESTATIC,
            Type.getInternalName(LambdaMetafactory.class), "metafactory",
            MethodType.methodType(CallSite.class, MethodHandles.Lookup.class, String.class, MethodType.class,
                    MethodType.class, MethodHandle.class, MethodType.class).toMethodDescriptorString(), false);

    private final List<LambdaSpec> lambdas;
    private final Map<String, List<Integer>> byClass;
    private final Map<Object, Map.Entry<LambdaSpec, Object[]>> made = new IdentityHashMap<>();

    private LambdaFactories(List<LambdaSpec> lambdas, Map<String, List<Integer>> byClass) {
        this.lambdas = lambdas;
        this.byClass = byClass;
    }

    /**
     * The factories of a request's lambdas, whose classes the request ships under the binary names
     * {@code shipped}.
     *
     * @throws IllegalArgumentException when a lambda's implementation is not in a shipped class
     */
    public static LambdaFactories of(List<LambdaSpec> lambdas, Set<String> shipped) {
        Map<String, List<Integer>> byClass = new LinkedHashMap<>();
        for (int i = 0; i < lambdas.size(); i++) {
            String owner = lambdas.get(i).implClass().replace('/', '.');
            if (!shipped.contains(owner)) {
                throw new IllegalArgumentException("the request has a lambda implemented by " + owner
                        + ", a class it does not ship");
            }
            byClass.computeIfAbsent(owner, o -> new ArrayList<>()).add(i);
        }
        return new LambdaFactories(List.copyOf(lambdas), Map.copyOf(byClass));
    }

    /** The specs of the request's lambdas, in the request's order (a lambda's index names its factory). */
    public List<LambdaSpec> specs() {
        return lambdas;
    }

    /**
     * The class file of the shipped class {@code className} with the factories of the lambdas it implements
     * ({@code classFile} itself when it implements none).
     *
     * @throws IllegalArgumentException when the class does not declare a lambda's implementation as the
     *     request describes it
     */
    public byte[] addTo(String className, byte[] classFile) {
        List<Integer> indices = byClass.get(className);
        if (indices == null) {
            return classFile;
        }
        ClassReader reader = new ClassReader(classFile);
        Map<String, Integer> declared = declaredMethods(reader);
        boolean isInterface = (reader.getAccess() & Opcodes.ACC_INTERFACE) != 0;
        for (int index : indices) {
            checkImplementation(lambdas.get(index), declared, isInterface);
        }
        ClassWriter writer = new ClassWriter(reader, ClassWriter.COMPUTE_MAXS);
        reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
            @Override
            public void visitEnd() {
                for (int index : indices) {
                    factory(cv, lambdas.get(index), index, isInterface);
                }
                super.visitEnd();
            }
        }, 0);
        return writer.toByteArray();
    }

    @Override
    public Object create(LambdaSpec spec, Object[] values, ClassLoader loader) throws ReflectiveOperationException {
        int index = lambdas.indexOf(spec);
        if (index < 0) {
            throw new IllegalArgumentException("the graph holds a lambda the request did not list: " + spec.implName());
        }
        Class<?> owner = Class.forName(spec.implClass().replace('/', '.'), false, loader);
        MethodType type = MethodType.fromMethodDescriptorString(factoryDescriptor(spec), loader);
        Method factory = owner.getDeclaredMethod(PREFIX + index, type.parameterArray());
        factory.setAccessible(true);
        Object lambda = factory.invoke(null, values);
        made.put(lambda, Map.entry(spec, values));
        return lambda;
    }

    /**
     * What a job's body captured, as the job left it: the values a lambda this factory made captured (the same
     * objects), or a body of a class of its own (an anonymous class) itself, whose fields hold its captures.
     */
    public Object[] capturedBy(Object body) {
        Map.Entry<LambdaSpec, Object[]> entry = made.get(body);
        return entry == null ? new Object[] {body} : entry.getValue();
    }

    /**
     * The spec and captured values of a lambda this factory made, or {@code null}: how such a lambda is
     * written back, since the factories make lambdas without Java serialization's {@code writeReplace}.
     */
    @Override
    public Map.Entry<LambdaSpec, Object[]> origin(Object lambda) {
        return made.get(lambda);
    }

    /** The methods the class declares, {@code name + descriptor} to access flags. */
    private static Map<String, Integer> declaredMethods(ClassReader reader) {
        Map<String, Integer> methods = new HashMap<>();
        reader.accept(new ClassVisitor(Opcodes.ASM9) {
            @Override
            public MethodVisitor visitMethod(int access, String name, String descriptor, String signature,
                    String[] exceptions) {
                methods.put(name + descriptor, access);
                return null;
            }
        }, ClassReader.SKIP_CODE | ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
        return methods;
    }

    /** Checks that the class declares the lambda's implementation, of the kind the request names. */
    private static void checkImplementation(LambdaSpec spec, Map<String, Integer> declared, boolean isInterface) {
        String method = spec.implClass().replace('/', '.') + "." + spec.implName() + spec.implDescriptor();
        Integer access = declared.get(spec.implName() + spec.implDescriptor());
        if (access == null) {
            throw new IllegalArgumentException("the request has a lambda implemented by " + method + ", which that "
                    + "class does not declare: a lambda's implementation must be a method of the shipped class itself");
        }
        boolean isStatic = (access & Opcodes.ACC_STATIC) != 0;
        boolean constructor = spec.implName().equals("<init>");
        boolean fits = switch (spec.implKind()) {
            case MethodHandleInfo.REF_invokeStatic -> isStatic && !spec.implName().startsWith("<");
            case MethodHandleInfo.REF_invokeVirtual -> !isStatic && !constructor && !isInterface;
            case MethodHandleInfo.REF_invokeInterface -> !isStatic && !constructor && isInterface;
            case MethodHandleInfo.REF_invokeSpecial -> !isStatic && !constructor;
            case MethodHandleInfo.REF_newInvokeSpecial -> constructor;
            default -> false;
        };
        if (!fits) {
            throw new IllegalArgumentException("the request has a lambda implemented by " + method + " called as "
                    + MethodHandleInfo.referenceKindToString(spec.implKind()) + ", which does not fit that "
                    + (constructor ? "constructor" : isStatic ? "static method" : "instance method"));
        }
    }

    private static void factory(ClassVisitor owner, LambdaSpec spec, int index, boolean isInterface) {
        String descriptor = factoryDescriptor(spec);
        MethodVisitor code = owner.visitMethod(Opcodes.ACC_PRIVATE | Opcodes.ACC_STATIC | Opcodes.ACC_SYNTHETIC,
                PREFIX + index, descriptor, null, null);
        code.visitCode();
        int slot = 0;
        for (Type argument : Type.getArgumentTypes(descriptor)) {
            code.visitVarInsn(argument.getOpcode(Opcodes.ILOAD), slot);
            slot += argument.getSize();
        }
        Handle implementation = new Handle(spec.implKind(), spec.implClass(), spec.implName(), spec.implDescriptor(),
                isInterface);
        code.visitInvokeDynamicInsn(spec.interfaceMethod(), descriptor, METAFACTORY,
                Type.getMethodType(spec.interfaceMethodType()), implementation,
                Type.getMethodType(spec.instantiatedType()));
        code.visitInsn(Opcodes.ARETURN);
        code.visitMaxs(0, 0);
        code.visitEnd();
    }

    /** {@code (captured values) -> functional interface}, as javac types the lambda's creation site. */
    private static String factoryDescriptor(LambdaSpec spec) {
        Type[] parameters = Type.getArgumentTypes(spec.implDescriptor());
        List<Type> captured = new ArrayList<>();
        int count = spec.capturedCount();
        switch (spec.implKind()) {
            case MethodHandleInfo.REF_invokeVirtual:
            case MethodHandleInfo.REF_invokeInterface:
            case MethodHandleInfo.REF_invokeSpecial:
                if (count > 0) {
                    captured.add(Type.getObjectType(spec.implClass()));
                    count--;
                }
                break;
            default:
                break;
        }
        if (count > parameters.length) {
            throw new IllegalArgumentException("the lambda " + spec.implName() + " captures more values than its "
                    + "implementation takes");
        }
        captured.addAll(List.of(parameters).subList(0, count));
        return Type.getMethodDescriptor(Type.getObjectType(spec.functionalInterface()), captured.toArray(new Type[0]));
    }
}
