package io.nnsight.remote.internal.sandbox;

import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.LambdaSpec;
import java.lang.invoke.MethodHandleInfo;
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
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Makes a job's shipped lambdas on the server. A lambda's own class cannot travel (the JDK makes it at
 * run time), and shipped classes are sliced without the {@code $deserializeLambda$} that Java
 * serialization would call; so, after the sandbox has checked the shipped classes, the server gives each
 * lambda a class of its own making, as the JDK's {@code LambdaMetafactory} would, but as a plain class file
 * among the shipped ones, and adds to the class of the lambda's implementation a factory method and a bridge:
 *
 * <pre>{@code
 * private static TraceBody $nnsight$lambda$0(LanguageModel lm) {
 *     return new Probe$$NnsightLambda$0(lm);
 * }
 * static void $nnsight$lambda$0$call(LanguageModel lm, Object x) {   // the interface method's erased types
 *     lambda$main$0(lm, (Tensor) x);                                 // cast, boxed, widened as the JDK would
 * }
 *
 * final class Probe$$NnsightLambda$0 implements TraceBody {         // same package, same class loader
 *     private final LanguageModel c0;
 *     public void run(Object x) { Probe.$nnsight$lambda$0$call(c0, x); }
 * }
 * }</pre>
 *
 * and reads the graph's lambdas by calling the factory with their captured values. The lambda classes are made
 * once, when the code is checked, and kept with it ({@link PreparedCache}); each job still defines them in its
 * own {@link JobClassLoader}, so nothing of one job's lambdas is shared with another's. (With {@code
 * invokedynamic}, the JDK spun a hidden class for every lambda of every job, the worker's largest cost per job.)
 *
 * <p>The factories, bridges and lambda classes are added before the sandbox checks the classes ({@link #addTo},
 * {@link #classesOf}), so the check vets them as it vets javac's code: the functional interface, the types, and
 * the implementation method, resolved as the JVM will resolve it; the JVM verifies them when a job defines
 * them. What a request says about a lambda is not trusted otherwise either: its implementation must be a
 * method that the shipped class itself declares, of the kind the request names (a static method for {@code
 * invokeStatic}, an instance method for {@code invokeVirtual}...), so a request cannot bind a lambda to a method
 * the class inherits from a server class; and its types must convert as the JDK's would convert them.
 */
public final class LambdaFactories implements LambdaFactory {
    private static final String PREFIX = "$nnsight$lambda$";
    private static final String BRIDGE_SUFFIX = "$call";
    private static final String CLASS_INFIX = LambdaFactory.MADE_CLASS_INFIX;
    private static final String OBJECT = "java/lang/Object";
    /** The primitive types each primitive type widens to (JLS 5.1.2), by descriptor. */
    private static final Map<String, String> WIDER = Map.of("B", "SIJFD", "S", "IJFD", "C", "IJFD", "I", "JFD",
            "J", "FD", "F", "D");

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
     * @throws IllegalArgumentException when a lambda's implementation is not in a shipped class, or a shipped class
     *     has the name of a lambda's class
     */
    public static LambdaFactories of(List<LambdaSpec> lambdas, Set<String> shipped) {
        Map<String, List<Integer>> byClass = new LinkedHashMap<>();
        for (int i = 0; i < lambdas.size(); i++) {
            String owner = lambdas.get(i).implClass().replace('/', '.');
            if (!shipped.contains(owner)) {
                throw new IllegalArgumentException("the request has a lambda implemented by " + owner
                        + ", a class it does not ship");
            }
            if (shipped.contains(owner + CLASS_INFIX + i)) {
                throw new IllegalArgumentException("the request ships a class named " + owner + CLASS_INFIX + i
                        + ", the name of the class the server makes for one of its lambdas; rename that class");
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
     * The class file of the shipped class {@code className} with the factories and bridges of the lambdas it
     * implements ({@code classFile} itself when it implements none).
     *
     * @throws IllegalArgumentException when the class does not declare a lambda's implementation as the
     *     request describes it, or the lambda's types do not convert to the implementation's
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
                    bridge(cv, lambdas.get(index), index, isInterface);
                }
                super.visitEnd();
            }
        }, 0);
        return writer.toByteArray();
    }

    /**
     * The classes of the lambdas that the shipped class {@code className} implements, by binary name (none when it
     * implements none), for the class file version of {@code classFile}, its class file as {@link #addTo} is given
     * it.
     *
     * @throws IllegalArgumentException as {@link #addTo} does
     */
    public Map<String, byte[]> classesOf(String className, byte[] classFile) {
        List<Integer> indices = byClass.get(className);
        if (indices == null) {
            return Map.of();
        }
        ClassReader reader = new ClassReader(classFile);
        int version = reader.readUnsignedShort(4) << 16 | reader.readUnsignedShort(6); // ASM: minor, major
        boolean isInterface = (reader.getAccess() & Opcodes.ACC_INTERFACE) != 0;
        Map<String, byte[]> classes = new LinkedHashMap<>();
        for (int index : indices) {
            classes.put(className + CLASS_INFIX + index, lambdaClass(lambdas.get(index), index, version, isInterface));
        }
        return classes;
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

    /** {@code static I $nnsight$lambda$i(captured values) { return new Owner$$NnsightLambda$i(captured values); }} */
    private static void factory(ClassVisitor owner, LambdaSpec spec, int index, boolean isInterface) {
        String descriptor = factoryDescriptor(spec);
        String lambdaClass = spec.implClass() + CLASS_INFIX + index;
        MethodVisitor code = owner.visitMethod(Opcodes.ACC_PRIVATE | Opcodes.ACC_STATIC | Opcodes.ACC_SYNTHETIC,
                PREFIX + index, descriptor, null, null);
        code.visitCode();
        code.visitTypeInsn(Opcodes.NEW, lambdaClass);
        code.visitInsn(Opcodes.DUP);
        Type[] captured = Type.getArgumentTypes(descriptor);
        loadArguments(code, captured, 0);
        code.visitMethodInsn(Opcodes.INVOKESPECIAL, lambdaClass, "<init>",
                Type.getMethodDescriptor(Type.VOID_TYPE, captured), false);
        code.visitInsn(Opcodes.ARETURN);
        code.visitMaxs(0, 0);
        code.visitEnd();
    }

    /**
     * {@code static R $nnsight$lambda$i$call(captured values, the interface method's arguments)}: calls the
     * implementation, converting the arguments and the result as {@code LambdaMetafactory} does (casts to the
     * instantiated types, boxing, unboxing, widening). It lives in the implementation's class, which may call
     * the implementation even when it is private; it is package-private (public in an interface, whose methods
     * can be nothing else) so the lambda's class, in the same package and class loader, can call it.
     */
    private static void bridge(ClassVisitor owner, LambdaSpec spec, int index, boolean isInterface) {
        Type[] captured = Type.getArgumentTypes(factoryDescriptor(spec));
        Type samType = Type.getMethodType(spec.interfaceMethodType());
        Type instantiated = Type.getMethodType(spec.instantiatedType());
        Type implType = Type.getMethodType(spec.implDescriptor());
        Type self = Type.getObjectType(spec.implClass());
        boolean constructs = spec.implKind() == MethodHandleInfo.REF_newInvokeSpecial;
        boolean hasReceiver = switch (spec.implKind()) {
            case MethodHandleInfo.REF_invokeVirtual, MethodHandleInfo.REF_invokeInterface,
                    MethodHandleInfo.REF_invokeSpecial -> true;
            default -> false;
        };
        List<Type> targets = new ArrayList<>();
        if (hasReceiver) {
            targets.add(self);
        }
        targets.addAll(List.of(implType.getArgumentTypes()));
        Type[] samArguments = samType.getArgumentTypes();
        Type[] instantiatedArguments = instantiated.getArgumentTypes();
        if (targets.size() - captured.length != samArguments.length
                || instantiatedArguments.length != samArguments.length) {
            throw new IllegalArgumentException("the lambda " + spec.implName() + " takes " + targets.size()
                    + " values, but it captures " + captured.length + " and its interface method takes "
                    + samArguments.length);
        }
        List<Type> parameters = new ArrayList<>(List.of(captured));
        parameters.addAll(List.of(samArguments));
        String descriptor = Type.getMethodDescriptor(samType.getReturnType(), parameters.toArray(new Type[0]));
        int access = (isInterface ? Opcodes.ACC_PUBLIC : 0) | Opcodes.ACC_STATIC | Opcodes.ACC_SYNTHETIC;
        MethodVisitor code = owner.visitMethod(access, PREFIX + index + BRIDGE_SUFFIX, descriptor, null, null);
        code.visitCode();
        if (constructs) {
            code.visitTypeInsn(Opcodes.NEW, spec.implClass());
            code.visitInsn(Opcodes.DUP);
        }
        int slot = loadArguments(code, captured, 0);
        for (int i = 0; i < samArguments.length; i++) {
            code.visitVarInsn(samArguments[i].getOpcode(Opcodes.ILOAD), slot);
            slot += samArguments[i].getSize();
            convert(code, samArguments[i], instantiatedArguments[i], spec);
            convert(code, instantiatedArguments[i], targets.get(captured.length + i), spec);
        }
        switch (spec.implKind()) {
            case MethodHandleInfo.REF_invokeStatic -> code.visitMethodInsn(Opcodes.INVOKESTATIC, spec.implClass(),
                    spec.implName(), spec.implDescriptor(), isInterface);
            case MethodHandleInfo.REF_invokeVirtual -> code.visitMethodInsn(Opcodes.INVOKEVIRTUAL, spec.implClass(),
                    spec.implName(), spec.implDescriptor(), false);
            case MethodHandleInfo.REF_invokeInterface -> code.visitMethodInsn(Opcodes.INVOKEINTERFACE,
                    spec.implClass(), spec.implName(), spec.implDescriptor(), true);
            default -> code.visitMethodInsn(Opcodes.INVOKESPECIAL, spec.implClass(), spec.implName(),
                    spec.implDescriptor(), isInterface && !constructs);
        }
        Type result = constructs ? self : implType.getReturnType();
        Type samResult = samType.getReturnType();
        if (samResult.getSort() == Type.VOID) {
            if (result.getSize() > 0) {
                code.visitInsn(result.getSize() == 2 ? Opcodes.POP2 : Opcodes.POP);
            }
        } else if (result.getSort() == Type.VOID) {
            throw new IllegalArgumentException("the lambda " + spec.implName() + " returns nothing, but its interface "
                    + "method returns " + samResult.getClassName());
        } else {
            convert(code, result, instantiated.getReturnType(), spec);
            convert(code, instantiated.getReturnType(), samResult, spec);
        }
        code.visitInsn(samResult.getOpcode(Opcodes.IRETURN));
        code.visitMaxs(0, 0);
        code.visitEnd();
    }

    /**
     * {@code final class Owner$$NnsightLambda$i implements I}: keeps the captured values and implements the
     * interface method by calling the bridge.
     */
    private static byte[] lambdaClass(LambdaSpec spec, int index, int version, boolean ownerIsInterface) {
        String name = spec.implClass() + CLASS_INFIX + index;
        Type[] captured = Type.getArgumentTypes(factoryDescriptor(spec));
        Type samType = Type.getMethodType(spec.interfaceMethodType());
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_MAXS);
        writer.visit(version, Opcodes.ACC_FINAL | Opcodes.ACC_SUPER | Opcodes.ACC_SYNTHETIC, name, null, OBJECT,
                new String[] {spec.functionalInterface()});
        for (int i = 0; i < captured.length; i++) {
            writer.visitField(Opcodes.ACC_PRIVATE | Opcodes.ACC_FINAL | Opcodes.ACC_SYNTHETIC, "c" + i,
                    captured[i].getDescriptor(), null, null).visitEnd();
        }
        MethodVisitor constructor = writer.visitMethod(0, "<init>", Type.getMethodDescriptor(Type.VOID_TYPE, captured),
                null, null);
        constructor.visitCode();
        constructor.visitVarInsn(Opcodes.ALOAD, 0);
        constructor.visitMethodInsn(Opcodes.INVOKESPECIAL, OBJECT, "<init>", "()V", false);
        int slot = 1;
        for (int i = 0; i < captured.length; i++) {
            constructor.visitVarInsn(Opcodes.ALOAD, 0);
            constructor.visitVarInsn(captured[i].getOpcode(Opcodes.ILOAD), slot);
            constructor.visitFieldInsn(Opcodes.PUTFIELD, name, "c" + i, captured[i].getDescriptor());
            slot += captured[i].getSize();
        }
        constructor.visitInsn(Opcodes.RETURN);
        constructor.visitMaxs(0, 0);
        constructor.visitEnd();

        MethodVisitor method = writer.visitMethod(Opcodes.ACC_PUBLIC, spec.interfaceMethod(),
                spec.interfaceMethodType(), null, null);
        method.visitCode();
        List<Type> parameters = new ArrayList<>();
        for (int i = 0; i < captured.length; i++) {
            method.visitVarInsn(Opcodes.ALOAD, 0);
            method.visitFieldInsn(Opcodes.GETFIELD, name, "c" + i, captured[i].getDescriptor());
            parameters.add(captured[i]);
        }
        loadArguments(method, samType.getArgumentTypes(), 1);
        parameters.addAll(List.of(samType.getArgumentTypes()));
        method.visitMethodInsn(Opcodes.INVOKESTATIC, spec.implClass(), PREFIX + index + BRIDGE_SUFFIX,
                Type.getMethodDescriptor(samType.getReturnType(), parameters.toArray(new Type[0])), ownerIsInterface);
        method.visitInsn(samType.getReturnType().getOpcode(Opcodes.IRETURN));
        method.visitMaxs(0, 0);
        method.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }

    /** Loads the arguments of these types from the local variables from {@code slot} on; the slot after them. */
    private static int loadArguments(MethodVisitor code, Type[] types, int slot) {
        for (Type type : types) {
            code.visitVarInsn(type.getOpcode(Opcodes.ILOAD), slot);
            slot += type.getSize();
        }
        return slot;
    }

    /**
     * Converts the value on the stack from {@code from} to {@code to} as {@code LambdaMetafactory} does: a cast
     * between references, boxing and unboxing, and widening between primitives.
     *
     * @throws IllegalArgumentException when there is no such conversion (a narrowing one, a boolean to a number)
     */
    private static void convert(MethodVisitor code, Type from, Type to, LambdaSpec spec) {
        if (from.equals(to)) {
            return;
        }
        boolean fromPrimitive = from.getSort() < Type.ARRAY;
        boolean toPrimitive = to.getSort() < Type.ARRAY;
        if (!fromPrimitive && !toPrimitive) {
            if (!to.getInternalName().equals(OBJECT)) {
                code.visitTypeInsn(Opcodes.CHECKCAST, to.getInternalName());
            }
        } else if (fromPrimitive && toPrimitive) {
            widen(code, from, to, spec);
        } else if (fromPrimitive) {
            Type primitive = unboxed(to);
            if (primitive != null) {
                widen(code, from, primitive, spec);
                box(code, primitive);
            } else {
                box(code, from);
                convert(code, boxed(from), to, spec);
            }
        } else {
            Type primitive = unboxed(from);
            if (primitive == null) {
                primitive = to;
                code.visitTypeInsn(Opcodes.CHECKCAST, boxed(to).getInternalName());
            }
            code.visitMethodInsn(Opcodes.INVOKEVIRTUAL, boxed(primitive).getInternalName(),
                    primitive.getClassName() + "Value", "()" + primitive.getDescriptor(), false);
            widen(code, primitive, to, spec);
        }
    }

    /** Widens a primitive (JLS 5.1.2); byte, short, char and int are all ints on the stack. */
    private static void widen(MethodVisitor code, Type from, Type to, LambdaSpec spec) {
        if (from.equals(to)) {
            return;
        }
        if (WIDER.getOrDefault(from.getDescriptor(), "").indexOf(to.getDescriptor().charAt(0)) < 0) {
            throw new IllegalArgumentException("the lambda " + spec.implName() + " cannot take or give a "
                    + from.getClassName() + " as a " + to.getClassName());
        }
        switch (to.getSort()) {
            case Type.LONG -> code.visitInsn(Opcodes.I2L);
            case Type.FLOAT -> code.visitInsn(from.getSort() == Type.LONG ? Opcodes.L2F : Opcodes.I2F);
            case Type.DOUBLE -> code.visitInsn(from.getSort() == Type.LONG ? Opcodes.L2D
                    : from.getSort() == Type.FLOAT ? Opcodes.F2D : Opcodes.I2D);
            default -> { } // short or int from a smaller int: the same int on the stack
        }
    }

    private static void box(MethodVisitor code, Type primitive) {
        Type wrapper = boxed(primitive);
        code.visitMethodInsn(Opcodes.INVOKESTATIC, wrapper.getInternalName(), "valueOf",
                Type.getMethodDescriptor(wrapper, primitive), false);
    }

    /** The wrapper class of a primitive type. */
    private static Type boxed(Type primitive) {
        return Type.getObjectType(switch (primitive.getSort()) {
            case Type.BOOLEAN -> "java/lang/Boolean";
            case Type.BYTE -> "java/lang/Byte";
            case Type.SHORT -> "java/lang/Short";
            case Type.CHAR -> "java/lang/Character";
            case Type.INT -> "java/lang/Integer";
            case Type.LONG -> "java/lang/Long";
            case Type.FLOAT -> "java/lang/Float";
            default -> "java/lang/Double";
        });
    }

    /** The primitive type a wrapper class holds; {@code null} for any other type. */
    private static Type unboxed(Type type) {
        for (Type primitive : new Type[] {Type.BOOLEAN_TYPE, Type.BYTE_TYPE, Type.SHORT_TYPE, Type.CHAR_TYPE,
                Type.INT_TYPE, Type.LONG_TYPE, Type.FLOAT_TYPE, Type.DOUBLE_TYPE}) {
            if (boxed(primitive).equals(type)) {
                return primitive;
            }
        }
        return null;
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
