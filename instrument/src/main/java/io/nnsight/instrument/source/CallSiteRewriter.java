package io.nnsight.instrument.source;

import io.nnsight.instrument.transform.NativeCallSites;
import java.util.LinkedHashMap;
import java.util.Map;
import net.bytebuddy.asm.AsmVisitorWrapper;
import net.bytebuddy.description.field.FieldDescription;
import net.bytebuddy.description.field.FieldList;
import net.bytebuddy.description.method.MethodList;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.implementation.Implementation;
import net.bytebuddy.jar.asm.ClassVisitor;
import net.bytebuddy.jar.asm.Handle;
import net.bytebuddy.jar.asm.MethodVisitor;
import net.bytebuddy.jar.asm.Opcodes;
import net.bytebuddy.jar.asm.Type;
import net.bytebuddy.pool.TypePool;

/**
 * Rewrites the calls of a module class into {@code invokedynamic} call sites:
 *
 * <ul>
 *   <li>each operation of its {@link SourcePlan} (the calls of {@code forward} and what it reaches) into a
 *       site of {@link SourceCallSites}, which a trace can read and change ({@code .source});
 *   <li>every other call {@code module.forward(...)} to a native Bytedeco module (a class of {@code
 *       org.bytedeco.pytorch} whose name ends with {@code Impl}) into a site of {@link NativeCallSites},
 *       which routes it through the module's hook point (an operation that calls a native module does both).
 * </ul>
 *
 * The stack is the same before and after each call, so frames need no recomputation. A method reference to
 * a native module's forward ({@code fc::forward}) is pointed at a synthetic static method of the class that
 * makes the call the same way.
 */
public final class CallSiteRewriter {
    private static final String PACKAGE = "org/bytedeco/pytorch/";
    private static final Handle BOOTSTRAP = new Handle(Opcodes.H_INVOKESTATIC,
            Type.getInternalName(NativeCallSites.class), "bootstrap",
            "(Ljava/lang/invoke/MethodHandles$Lookup;Ljava/lang/String;Ljava/lang/invoke/MethodType;"
                    + "Ljava/lang/invoke/MethodHandle;)Ljava/lang/invoke/CallSite;", false);
    private static final Handle OPERATION = new Handle(Opcodes.H_INVOKESTATIC,
            Type.getInternalName(SourceCallSites.class), "bootstrap",
            "(Ljava/lang/invoke/MethodHandles$Lookup;Ljava/lang/String;Ljava/lang/invoke/MethodType;"
                    + "Ljava/lang/invoke/MethodHandle;Ljava/lang/String;II)Ljava/lang/invoke/CallSite;", false);

    private CallSiteRewriter() {}

    /**
     * The visitor wrapper for ByteBuddy that rewrites module class {@code className} of {@code loader}, by the
     * plan {@link SourceScanner} made of it when it loaded (none: only its native modules' calls are rewritten).
     * It applies to every method of the class as written to the class file, including the private copies of
     * methods whose code the agent moved (a rebased {@code forward}).
     */
    public static AsmVisitorWrapper wrapper(ClassLoader loader, String className) {
        return wrapper(SourcePlan.of(loader, className));
    }

    private static AsmVisitorWrapper wrapper(SourcePlan plan) {
        return new AsmVisitorWrapper.AbstractBase() {
            @Override
            public ClassVisitor wrap(TypeDescription type, ClassVisitor delegate, Implementation.Context context,
                    TypePool pool, FieldList<FieldDescription.InDefinedShape> fields, MethodList<?> methods, int writerFlags,
                    int readerFlags) {
                return new Rewriter(delegate, type.getInternalName(), plan);
            }
        };
    }

    /** Rewrites the methods of one class, and adds the bridges its method references need. */
    private static final class Rewriter extends ClassVisitor {
        private static final String METAFACTORY = "java/lang/invoke/LambdaMetafactory";

        private final String className;
        private final SourcePlan plan;
        private final Map<String, Handle> bridges = new LinkedHashMap<>();

        Rewriter(ClassVisitor delegate, String className, SourcePlan plan) {
            super(Opcodes.ASM9, delegate);
            this.className = className;
            this.plan = plan;
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
            int[] sites = plan == null ? null : plan.sites(name, descriptor);
            return new MethodVisitor(Opcodes.ASM9, super.visitMethod(access, name, descriptor, signature, exceptions)) {
                private int eligible;

                @Override
                public void visitMethodInsn(int opcode, String owner, String method, String type, boolean isInterface) {
                    boolean nativeForward = opcode == Opcodes.INVOKEVIRTUAL && isNativeModuleForward(owner, method);
                    if (sites != null && SourcePlan.eligible(opcode, owner, method) && eligible < sites.length) {
                        operation(this, opcode, owner, method, type, isInterface, sites[eligible++], nativeForward);
                    } else if (nativeForward) {
                        callSite(this, owner, type);
                    } else {
                        super.visitMethodInsn(opcode, owner, method, type, isInterface);
                    }
                }

                @Override
                public void visitInvokeDynamicInsn(String method, String type, Handle bootstrap, Object... arguments) {
                    if (bootstrap.getOwner().equals(METAFACTORY) && arguments.length > 1 && arguments[1] instanceof Handle) {
                        Handle target = (Handle) arguments[1];
                        if (target.getTag() == Opcodes.H_INVOKEVIRTUAL && isNativeModuleForward(target.getOwner(), target.getName())) {
                            arguments = arguments.clone();
                            arguments[1] = bridge(target);
                        }
                    }
                    super.visitInvokeDynamicInsn(method, type, bootstrap, arguments);
                }
            };
        }

        /** Emits the call site of operation {@code site}: a call {@code owner.name(type)} made with {@code opcode}. */
        private void operation(MethodVisitor method, int opcode, String owner, String name, String type, boolean isInterface,
                int site, boolean nativeForward) {
            boolean instance = opcode != Opcodes.INVOKESTATIC;
            int tag = opcode == Opcodes.INVOKESTATIC ? Opcodes.H_INVOKESTATIC
                    : opcode == Opcodes.INVOKEINTERFACE ? Opcodes.H_INVOKEINTERFACE : Opcodes.H_INVOKEVIRTUAL;
            Handle original = new Handle(tag, owner, name, type, isInterface);
            String siteType = instance ? "(" + Type.getObjectType(owner).getDescriptor() + type.substring(1) : type;
            int flags = (instance ? 1 : 0) | (nativeForward ? 2 : 0);
            method.visitInvokeDynamicInsn(name, siteType, OPERATION, original, className.replace('/', '.'), site, flags);
        }

        private Handle bridge(Handle target) {
            String key = target.getOwner() + target.getDesc();
            return bridges.computeIfAbsent(key, k -> new Handle(Opcodes.H_INVOKESTATIC, className,
                    "nnsight$forward$" + bridges.size(), "(L" + target.getOwner() + ";" + target.getDesc().substring(1), false));
        }

        @Override
        public void visitEnd() {
            for (Map.Entry<String, Handle> entry : bridges.entrySet()) {
                Handle bridge = entry.getValue();
                String owner = entry.getKey().substring(0, entry.getKey().indexOf('('));
                String descriptor = bridge.getDesc();
                MethodVisitor method = super.visitMethod(Opcodes.ACC_PRIVATE | Opcodes.ACC_STATIC | Opcodes.ACC_SYNTHETIC,
                        bridge.getName(), descriptor, null, null);
                method.visitCode();
                int slot = 0;
                for (Type argument : Type.getArgumentTypes(descriptor)) {
                    method.visitVarInsn(argument.getOpcode(Opcodes.ILOAD), slot);
                    slot += argument.getSize();
                }
                callSite(method, owner, "(" + descriptor.substring(descriptor.indexOf(';') + 1));
                method.visitInsn(Type.getReturnType(descriptor).getOpcode(Opcodes.IRETURN));
                method.visitMaxs(slot + 1, slot);
                method.visitEnd();
            }
            super.visitEnd();
        }
    }

    /** Emits the call site of {@code receiver.forward(...)} for a native module class {@code owner}. */
    private static void callSite(MethodVisitor method, String owner, String descriptor) {
        Handle original = new Handle(Opcodes.H_INVOKEVIRTUAL, owner, "forward", descriptor, false);
        method.visitInvokeDynamicInsn("forward", "(L" + owner + ";" + descriptor.substring(1), BOOTSTRAP, original);
    }

    static boolean isNativeModuleForward(String owner, String name) {
        return name.equals("forward") && owner.startsWith(PACKAGE) && owner.endsWith("Impl")
                && owner.indexOf('/', PACKAGE.length()) < 0;
    }
}
