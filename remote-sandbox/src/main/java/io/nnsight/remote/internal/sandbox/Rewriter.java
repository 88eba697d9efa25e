package io.nnsight.remote.internal.sandbox;

import java.util.HashSet;
import java.util.Set;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Rewrites a shipped class that passed its check, so that it runs under the job's rules:
 *
 * <ul>
 *   <li><b>Deadline checks.</b> A call to {@link Deadline#check()} at the start of every method and before
 *       every backward jump (a {@code goto}, conditional jump or switch with a target already passed, that
 *       is, the back edge of a loop). Code can then neither loop nor recurse past the job's deadline, and a
 *       {@code catch (Throwable t)} inside a loop cannot swallow the timeout for good: the check at the back
 *       edge throws again on the next iteration.
 *   <li><b>Output.</b> {@code System.out} and {@code System.err} become {@link JobOutput#out()} and
 *       {@link JobOutput#err()}, so what the job prints goes to its log rather than the server's console.
 *   <li><b>No native addresses.</b> The calls, method references and bootstraps that turn objects into text or
 *       hash codes go through {@link AddressFree}, so that a native object never shows its address (see {@link
 *       AddressRedirects} for the list).
 * </ul>
 *
 * <p>Why the stack map frames stay valid without recomputing them ({@link ClassWriter#COMPUTE_MAXS}, not
 * {@code COMPUTE_FRAMES}, which would need the class hierarchy): the inserted instructions take nothing from
 * the operand stack and leave nothing on it (or, for the output, push what {@code getstatic} pushed; for
 * addresses, replace a call by a static call of the same stack effect, or turn the argument on top of the
 * stack into one of the type the call takes, right before it), and none of them is a branch target. Frames describe the state at branch targets; an inserted call placed after
 * a target's label runs in exactly the state the frame describes, and the instruction after it sees the same
 * state again. ASM moves the frames' offsets with the code. The tests define the rewritten classes in a
 * class loader of their own, where the JVM verifies them, and run them.
 */
final class Rewriter {
    private static final String DEADLINE = Type.getInternalName(Deadline.class);
    private static final String JOB_OUTPUT = Type.getInternalName(JobOutput.class);
    private static final String PRINT_STREAM = Type.getDescriptor(java.io.PrintStream.class);

    private Rewriter() {}

    /** The rewritten class file; {@code classFile} must be of a version this JVM runs. */
    static byte[] rewrite(byte[] classFile) {
        ClassReader reader = new ClassReader(classFile);
        ClassWriter writer = new ClassWriter(reader, ClassWriter.COMPUTE_MAXS);
        reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
            @Override
            public MethodVisitor visitMethod(
                    int access, String name, String descriptor, String signature, String[] exceptions) {
                return new JobRules(super.visitMethod(access, name, descriptor, signature, exceptions));
            }
        }, 0);
        return writer.toByteArray();
    }

    /** Inserts the deadline checks into one method and redirects its printing. */
    private static final class JobRules extends MethodVisitor {
        private final Set<Label> passed = new HashSet<>();

        JobRules(MethodVisitor next) {
            super(Opcodes.ASM9, next);
        }

        @Override
        public void visitCode() {
            super.visitCode();
            checkDeadline();
        }

        @Override
        public void visitLabel(Label label) {
            passed.add(label);
            super.visitLabel(label);
        }

        @Override
        public void visitJumpInsn(int opcode, Label target) {
            if (passed.contains(target)) {
                checkDeadline();
            }
            super.visitJumpInsn(opcode, target);
        }

        @Override
        public void visitTableSwitchInsn(int min, int max, Label otherwise, Label... targets) {
            checkDeadlineIfBackward(otherwise, targets);
            super.visitTableSwitchInsn(min, max, otherwise, targets);
        }

        @Override
        public void visitLookupSwitchInsn(Label otherwise, int[] keys, Label[] targets) {
            checkDeadlineIfBackward(otherwise, targets);
            super.visitLookupSwitchInsn(otherwise, keys, targets);
        }

        @Override
        public void visitMethodInsn(int opcode, String owner, String name, String descriptor, boolean isInterface) {
            AddressRedirects.Call replacement = AddressRedirects.replacement(opcode, owner, name, descriptor);
            if (replacement != null) {
                callAddressFree(replacement);
                return;
            }
            AddressRedirects.Call printable = AddressRedirects.printableArgument(opcode, owner, name, descriptor);
            if (printable != null) {
                callAddressFree(printable);
            }
            super.visitMethodInsn(opcode, owner, name, descriptor, isInterface);
        }

        @Override
        public void visitInvokeDynamicInsn(String name, String descriptor, Handle bootstrap, Object... arguments) {
            Object[] redirected = arguments.clone();
            for (int i = 0; i < redirected.length; i++) {
                if (redirected[i] instanceof Handle handle) {
                    redirected[i] = AddressRedirects.handle(handle);
                }
            }
            super.visitInvokeDynamicInsn(name, descriptor, AddressRedirects.bootstrap(bootstrap), redirected);
        }

        private void callAddressFree(AddressRedirects.Call call) {
            super.visitMethodInsn(Opcodes.INVOKESTATIC, AddressRedirects.ADDRESS_FREE, call.name(), call.descriptor(),
                    false);
        }

        @Override
        public void visitFieldInsn(int opcode, String owner, String name, String descriptor) {
            boolean standardStream = opcode == Opcodes.GETSTATIC && owner.equals("java/lang/System")
                    && (name.equals("out") || name.equals("err")) && descriptor.equals(PRINT_STREAM);
            if (standardStream) {
                super.visitMethodInsn(Opcodes.INVOKESTATIC, JOB_OUTPUT, name, "()" + PRINT_STREAM, false);
            } else {
                super.visitFieldInsn(opcode, owner, name, descriptor);
            }
        }

        private void checkDeadlineIfBackward(Label otherwise, Label[] targets) {
            boolean backward = passed.contains(otherwise);
            for (Label target : targets) {
                backward |= passed.contains(target);
            }
            if (backward) {
                checkDeadline();
            }
        }

        private void checkDeadline() {
            super.visitMethodInsn(Opcodes.INVOKESTATIC, DEADLINE, "check", "()V", false);
        }
    }
}
