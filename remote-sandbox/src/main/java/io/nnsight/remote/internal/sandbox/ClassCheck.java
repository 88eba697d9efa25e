package io.nnsight.remote.internal.sandbox;

import static org.objectweb.asm.Opcodes.ACC_NATIVE;
import static org.objectweb.asm.Opcodes.ACC_STATIC;

import io.nnsight.remote.internal.allowlist.Policy.Verdict;
import io.nnsight.remote.internal.allowlist.Policy;
import io.nnsight.remote.internal.allowlist.Reason;
import io.nnsight.remote.internal.allowlist.ServerClasses;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.objectweb.asm.ConstantDynamic;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.signature.SignatureReader;
import org.objectweb.asm.signature.SignatureVisitor;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.FieldInsnNode;
import org.objectweb.asm.tree.FieldNode;
import org.objectweb.asm.tree.InsnList;
import org.objectweb.asm.tree.InvokeDynamicInsnNode;
import org.objectweb.asm.tree.LdcInsnNode;
import org.objectweb.asm.tree.LineNumberNode;
import org.objectweb.asm.tree.MethodInsnNode;
import org.objectweb.asm.tree.MethodNode;
import org.objectweb.asm.tree.MultiANewArrayInsnNode;
import org.objectweb.asm.tree.TryCatchBlockNode;
import org.objectweb.asm.tree.TypeInsnNode;

/**
 * Checks one shipped class: every class and member it references against the {@link Policy}, every
 * reference to the server's classes for existence on this server, and the few things a class may not do in
 * its own bytecode.
 *
 * <p>The references checked are those the JVM can act on: the superclass and interfaces; the types in field
 * and method descriptors, generic signatures and {@code throws} clauses; the owner, name and descriptor of
 * every field access and method call; the types of {@code new}, {@code anewarray}, {@code checkcast},
 * {@code instanceof} and {@code multianewarray}; {@code ldc} constants; the bootstrap method and arguments of
 * {@code invokedynamic}; and the exception types of {@code catch} blocks. Annotations and the attributes that
 * describe the class ({@code InnerClasses}, {@code NestHost}, {@code NestMembers}, {@code EnclosingMethod}) are
 * not checked: they grant nothing, since reflection is refused and a nest cannot span class loaders.
 *
 * <p>A member reference is allowed when its owner allows it, the class that declares it (where the JVM's
 * resolution finds it, see {@link Linkage}) allows it too if that class is public, and every type in its
 * descriptor is allowed (unless a member rule vetted the member by name). Non-public declaring classes such as
 * {@code AbstractStringBuilder} are skipped: their members are part of their public subclasses' API.
 *
 * <p>In its own bytecode a shipped class may not declare {@code native} methods or a finalizer, lock objects
 * ({@code synchronized} blocks), use {@code jsr}/{@code ret}, or place an exception handler where it can loop
 * back into the code it protects: that is the one way to loop without a backward jump, so it would escape the
 * deadline checks that {@link Rewriter} puts before backward jumps. (javac's own handlers that cover
 * themselves, around the store of the exception in a {@code finally}, contain nothing that can throw and pass.)
 */
final class ClassCheck {
    private static final int SERVER_JAVA = Runtime.version().feature();
    private static final Type METHOD_TYPE = Type.getObjectType("java/lang/invoke/MethodType");
    private static final Type METHOD_HANDLE = Type.getObjectType("java/lang/invoke/MethodHandle");

    private final Policy policy;
    private final Linkage linkage;
    private final ClassNode type;
    private final String className;
    private final int compiledFor;
    private final Set<Violation> violations = new LinkedHashSet<>();
    private boolean usesAutograd;

    /**
     * What the check found of one class.
     *
     * @param violations its violations, in the order of the class file, without repeats
     * @param usesAutograd whether it references a member through which it can use autograd ({@link AutogradUse})
     */
    record Findings(List<Violation> violations, boolean usesAutograd) {}

    private ClassCheck(Policy policy, Linkage linkage, ClassNode type, int compiledFor) {
        this.policy = policy;
        this.linkage = linkage;
        this.type = type;
        this.className = Type.getObjectType(type.name).getClassName();
        this.compiledFor = compiledFor;
    }

    /**
     * Checks one shipped class.
     *
     * @param compiledFor the Java version (feature number) the class file was compiled for
     */
    static Findings check(Policy policy, Linkage linkage, ClassNode type, int compiledFor) {
        ClassCheck check = new ClassCheck(policy, linkage, type, compiledFor);
        check.declarations();
        return new Findings(List.copyOf(check.violations), check.usesAutograd);
    }

    private void declarations() {
        if (type.superName != null) {
            type(className, "extends ", Type.getObjectType(type.superName));
        }
        for (String parent : type.interfaces) {
            type(className, "implements ", Type.getObjectType(parent));
        }
        signature(className, type.signature);
        for (FieldNode field : type.fields) {
            String where = className + "." + field.name;
            type(where, "", Type.getType(field.desc));
            signature(where, field.signature);
        }
        type.methods.forEach(this::method);
    }

    private void method(MethodNode method) {
        int[] lines = lines(method.instructions);
        String declaration = where(method, Arrays.stream(lines).filter(line -> line > 0).findFirst().orElse(0));
        if ((method.access & ACC_NATIVE) != 0) {
            refuse(declaration, "native method " + method.name, Reason.NATIVE_CODE);
        }
        if (method.name.equals("finalize") && method.desc.equals("()V") && (method.access & ACC_STATIC) == 0) {
            refuse(declaration, "finalize()", Reason.FINALIZER);
        }
        descriptor(declaration, method.desc);
        signature(declaration, method.signature);
        for (String exception : method.exceptions) {
            type(declaration, "", Type.getObjectType(exception));
        }
        boolean locks = false;
        for (int i = 0; i < method.instructions.size(); i++) {
            AbstractInsnNode instruction = method.instructions.get(i);
            int opcode = instruction.getOpcode();
            boolean lock = opcode == Opcodes.MONITORENTER || opcode == Opcodes.MONITOREXIT;
            if (lock && !locks) { // once per method: a block has one monitorenter and two monitorexits
                refuse(where(method, lines[i]), "synchronized block", Reason.LOCKS);
            }
            locks |= lock;
            instruction(where(method, lines[i]), instruction);
        }
        for (TryCatchBlockNode block : method.tryCatchBlocks) {
            handler(method, block, lines);
        }
    }

    private void instruction(String where, AbstractInsnNode instruction) {
        if (instruction instanceof TypeInsnNode typed) {
            type(where, "", Type.getObjectType(typed.desc));
        } else if (instruction instanceof FieldInsnNode field) {
            member(where, field.owner, field.name, field.desc, true);
        } else if (instruction instanceof MethodInsnNode call) {
            if (AddressRedirects.replacement(call.getOpcode(), call.owner, call.name, call.desc) != null) {
                type(where, "", Type.getObjectType(call.owner)); // the call made is AddressFree's
            } else {
                member(where, call.owner, call.name, call.desc, false);
            }
        } else if (instruction instanceof InvokeDynamicInsnNode dynamic) {
            invokeDynamic(where, dynamic);
        } else if (instruction instanceof LdcInsnNode constant) {
            constant(where, constant.cst);
        } else if (instruction instanceof MultiANewArrayInsnNode array) {
            type(where, "", Type.getType(array.desc));
        } else if (instruction.getOpcode() == Opcodes.JSR || instruction.getOpcode() == Opcodes.RET) {
            refuse(where, "jsr/ret subroutine", Reason.SUBROUTINES);
        }
    }

    private void member(String where, String owner, String name, String descriptor, boolean field) {
        Type ownerType = Type.getObjectType(owner);
        if (ownerType.getSort() == Type.ARRAY) {
            type(where, "", ownerType);
            if (name.equals("clone")) {
                return; // the array's own public clone()
            }
            ownerType = Type.getType(Object.class); // any other member of an array is Object's
        }
        String ownerName = ownerType.getClassName();
        usesAutograd |= AutogradUse.named(ownerName, name);
        String what = describe(ownerName, name, descriptor, field);
        boolean vetted = false;
        boolean jdk = false;
        if (!linkage.isShipped(ownerName)) {
            Verdict verdict = policy.member(ownerName, name, descriptor);
            if (!verdict.allowed()) {
                refuse(where, verdict.byMemberRule() ? what : ownerName, verdict.refusal());
                return;
            }
            Optional<Class<?>> serverOwner = linkage.server(ownerName);
            if (serverOwner.isEmpty()) {
                absent(where, ownerName, isJdkName(ownerName));
                return;
            }
            vetted = verdict.vetted();
            jdk = ServerClasses.isJdk(serverOwner.get());
        }
        Optional<String> declarer = linkage.declaringClass(ownerName, name, descriptor, field);
        if (declarer.isEmpty()) {
            absent(where, what, jdk);
            return;
        }
        if (linkage.isShipped(declarer.get())) {
            return; // its descriptor is checked where the shipped class declares it
        }
        usesAutograd |= AutogradUse.named(declarer.get(), name);
        Class<?> declaring = linkage.server(declarer.get()).orElseThrow();
        if (!declarer.get().equals(ownerName) && Modifier.isPublic(declaring.getModifiers())) {
            Verdict inherited = policy.member(declarer.get(), name, descriptor);
            if (!inherited.allowed()) {
                refuse(where, inherited.byMemberRule() ? what : what + " (declared in " + declarer.get() + ")",
                        inherited.refusal());
                return;
            }
            vetted |= inherited.vetted();
        }
        if (!vetted) {
            for (Type used : field ? List.of(Type.getType(descriptor)) : types(descriptor)) {
                Reason refusal = refusal(used);
                if (refusal != null) {
                    violations.add(new Violation(where, what,
                            "it uses " + used.getClassName() + ": " + refusal, false));
                    return;
                }
            }
        }
    }

    private void invokeDynamic(String where, InvokeDynamicInsnNode dynamic) {
        Handle bootstrap = dynamic.bsm;
        if (!policy.bootstrap(Type.getObjectType(bootstrap.getOwner()).getClassName(), bootstrap.getName())) {
            refuse(where, "invokedynamic with bootstrap method " + describe(bootstrap), Reason.REFLECTION);
            return;
        }
        descriptor(where, dynamic.desc);
        for (Object argument : dynamic.bsmArgs) {
            bootstrapArgument(where, argument);
        }
    }

    /** A dynamic constant ({@code condy}): javac makes them for enum constants in pattern switches. */
    private void dynamicConstant(String where, ConstantDynamic dynamic) {
        Handle bootstrap = dynamic.getBootstrapMethod();
        if (!policy.bootstrap(Type.getObjectType(bootstrap.getOwner()).getClassName(), bootstrap.getName())) {
            refuse(where, "dynamic constant with bootstrap method " + describe(bootstrap), Reason.REFLECTION);
            return;
        }
        type(where, "", Type.getType(dynamic.getDescriptor()));
        for (int i = 0; i < dynamic.getBootstrapMethodArgumentCount(); i++) {
            bootstrapArgument(where, dynamic.getBootstrapMethodArgument(i));
        }
    }

    private void bootstrapArgument(String where, Object argument) {
        if (argument instanceof Handle handle) { // the method a lambda, record method or constant calls
            boolean field = handle.getTag() <= Opcodes.H_PUTSTATIC;
            if (AddressRedirects.handle(handle) != handle) {
                type(where, "", Type.getObjectType(handle.getOwner())); // the method called is AddressFree's
            } else {
                member(where, handle.getOwner(), handle.getName(), handle.getDesc(), field);
            }
        } else if (argument instanceof Type typed && typed.getSort() == Type.METHOD) { // a lambda's signature
            descriptor(where, typed.getDescriptor());
        } else {
            constant(where, argument);
        }
    }

    private void constant(String where, Object constant) {
        if (constant instanceof Type typed) {
            if (typed.getSort() == Type.METHOD) {
                type(where, "", METHOD_TYPE);
            } else {
                type(where, "", typed);
            }
        } else if (constant instanceof Handle) {
            type(where, "", METHOD_HANDLE);
        } else if (constant instanceof ConstantDynamic dynamic) {
            dynamicConstant(where, dynamic);
        }
    }

    private void handler(MethodNode method, TryCatchBlockNode block, int[] lines) {
        InsnList code = method.instructions;
        int start = code.indexOf(block.start);
        int end = code.indexOf(block.end);
        int handler = code.indexOf(block.handler);
        String where = where(method, lines[handler]);
        if (block.type != null) {
            type(where, "catch ", Type.getObjectType(block.type));
        }
        if (handler < start || (handler < end && canThrow(code, handler, end))) {
            refuse(where, "an exception handler that can loop back into the code it protects", Reason.UNCHECKED_LOOP);
        }
    }

    /** Whether an instruction in {@code [from, to)} can throw, other than {@code monitorexit} (refused on its own). */
    private static boolean canThrow(InsnList code, int from, int to) {
        for (int i = from; i < to; i++) {
            int opcode = code.get(i).getOpcode();
            boolean safe = opcode < 0 // labels, line numbers, frames
                    || opcode == Opcodes.NOP
                    || opcode == Opcodes.MONITOREXIT
                    || (opcode >= Opcodes.ILOAD && opcode <= Opcodes.ALOAD)
                    || (opcode >= Opcodes.ISTORE && opcode <= Opcodes.ASTORE);
            if (!safe) {
                return true;
            }
        }
        return false;
    }

    private void type(String where, String relation, Type used) {
        Type element = used.getSort() == Type.ARRAY ? used.getElementType() : used;
        if (element.getSort() != Type.OBJECT || linkage.isShipped(element.getClassName())) {
            return;
        }
        String name = element.getClassName();
        Reason refusal = policy.type(name).refusal();
        if (refusal != null) {
            refuse(where, relation + name, refusal);
        } else if (linkage.server(name).isEmpty()) {
            absent(where, relation + name, isJdkName(name));
        }
    }

    /** Why the policy refuses the type (the element type of an array); {@code null} for allowed and shipped ones. */
    private Reason refusal(Type used) {
        Type element = used.getSort() == Type.ARRAY ? used.getElementType() : used;
        if (element.getSort() != Type.OBJECT || linkage.isShipped(element.getClassName())) {
            return null;
        }
        return policy.type(element.getClassName()).refusal();
    }

    private void descriptor(String where, String methodDescriptor) {
        types(methodDescriptor).forEach(used -> type(where, "", used));
    }

    private void signature(String where, String signature) {
        if (signature == null) {
            return;
        }
        List<String> names = new ArrayList<>();
        new SignatureReader(signature).accept(new SignatureVisitor(Opcodes.ASM9) {
            private String current;

            @Override
            public void visitClassType(String name) {
                current = name;
                names.add(name);
            }

            @Override
            public void visitInnerClassType(String name) {
                current = current + "$" + name;
                names.add(current);
            }
        });
        names.forEach(name -> type(where, "", Type.getObjectType(name)));
    }

    private void refuse(String where, String what, Reason why) {
        violations.add(new Violation(where, what, why.toString(), false));
    }

    /** Reports a reference to what the server does not have. */
    private void absent(String where, String what, boolean jdk) {
        String why;
        if (compiledFor > SERVER_JAVA) {
            why = "compiled for Java " + compiledFor + ", and Java " + SERVER_JAVA + " on this server lacks it";
        } else if (jdk) {
            why = "it does not exist in Java " + SERVER_JAVA + " on this server";
        } else {
            why = "it does not exist on this server";
        }
        violations.add(new Violation(where, what, why, compiledFor > SERVER_JAVA));
    }

    private String where(MethodNode method, int line) {
        return className + "." + method.name + (line > 0 ? "(" + line + ")" : "");
    }

    /** The source line of each instruction; 0 before the first line number. */
    private static int[] lines(InsnList code) {
        int[] lines = new int[code.size()];
        int line = 0;
        for (int i = 0; i < lines.length; i++) {
            if (code.get(i) instanceof LineNumberNode number) {
                line = number.line;
            }
            lines[i] = line;
        }
        return lines;
    }

    private static List<Type> types(String methodDescriptor) {
        List<Type> types = new ArrayList<>(Arrays.asList(Type.getArgumentTypes(methodDescriptor)));
        types.add(Type.getReturnType(methodDescriptor));
        return types;
    }

    private static boolean isJdkName(String className) {
        return className.startsWith("java.") || className.startsWith("javax.") || className.startsWith("jdk.");
    }

    private static String describe(Handle handle) {
        return describe(Type.getObjectType(handle.getOwner()).getClassName(), handle.getName(), handle.getDesc(),
                handle.getTag() <= Opcodes.H_PUTSTATIC);
    }

    /** {@code java.lang.System.exit(int)}, {@code new java.io.File(String)}, {@code java.lang.System.out}. */
    private static String describe(String owner, String name, String descriptor, boolean field) {
        if (field) {
            return owner + "." + name;
        }
        String parameters = Arrays.stream(Type.getArgumentTypes(descriptor))
                .map(parameter -> {
                    String typeName = parameter.getClassName();
                    return typeName.substring(typeName.lastIndexOf('.') + 1).replace('$', '.');
                })
                .collect(Collectors.joining(", ", "(", ")"));
        return name.equals("<init>") ? "new " + owner + parameters : owner + "." + name + parameters;
    }
}
