package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.FieldInsnNode;
import org.objectweb.asm.tree.MethodInsnNode;
import org.objectweb.asm.tree.MethodNode;

class RewriterTest {
    private static final String DEADLINE = Type.getInternalName(Deadline.class);
    private static final String JOB_OUTPUT = Type.getInternalName(JobOutput.class);
    /** Stands for a call of {@link Deadline#check()} in a list of opcodes. */
    private static final int CHECK = -100;

    @Test
    void rewrite_checksTheDeadlineAtMethodStartAndBeforeBackwardJumpsOnly() {
        MethodNode loop = method(Rewriter.rewrite(classWithLoop()), "count");

        assertEquals(List.of(CHECK, Opcodes.ICONST_0, Opcodes.ISTORE, Opcodes.ILOAD, Opcodes.BIPUSH, Opcodes.IF_ICMPGE,
                Opcodes.IINC, CHECK, Opcodes.GOTO, Opcodes.ILOAD, Opcodes.IRETURN), opcodes(loop));
    }

    @Test
    void rewrite_sendsSystemOutAndErrToTheJobsOutput() {
        MethodNode prints = method(Rewriter.rewrite(ClassFiles.read(Benign.Prints.class)), "get");

        List<String> streams = new ArrayList<>();
        for (AbstractInsnNode instruction : prints.instructions) {
            if (instruction instanceof FieldInsnNode field && field.owner.equals("java/lang/System")) {
                streams.add("System." + field.name);
            } else if (instruction instanceof MethodInsnNode call && call.owner.equals(JOB_OUTPUT)) {
                streams.add("JobOutput." + call.name + call.desc);
            }
        }
        assertEquals(List.of("JobOutput.out()Ljava/io/PrintStream;", "JobOutput.out()Ljava/io/PrintStream;",
                "JobOutput.err()Ljava/io/PrintStream;"), streams);
    }

    @Test
    void classesOfAJob_areVerifiedByTheJvm() {
        // The claim that the rewriting keeps stack map frames valid rests on the tests that run rewritten classes:
        // this shows that the JVM does verify what a JobClassLoader defines, so a broken frame would fail them.
        JobClassLoader loader =
                new JobClassLoader(Map.of("shipped.Broken", brokenClass()), getClass().getClassLoader());

        assertThrows(VerifyError.class, () -> Class.forName("shipped.Broken", true, loader));
    }

    /** {@code static int count() { int i = 0; while (i < 10) i++; return i; }}, with frames. */
    private static byte[] classWithLoop() {
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_FRAMES | ClassWriter.COMPUTE_MAXS);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC, "shipped/Loop", null, "java/lang/Object", null);
        MethodVisitor count = writer.visitMethod(Opcodes.ACC_STATIC, "count", "()I", null, null);
        Label head = new Label();
        Label done = new Label();
        count.visitCode();
        count.visitInsn(Opcodes.ICONST_0);
        count.visitVarInsn(Opcodes.ISTORE, 0);
        count.visitLabel(head);
        count.visitVarInsn(Opcodes.ILOAD, 0);
        count.visitIntInsn(Opcodes.BIPUSH, 10);
        count.visitJumpInsn(Opcodes.IF_ICMPGE, done);
        count.visitIincInsn(0, 1);
        count.visitJumpInsn(Opcodes.GOTO, head);
        count.visitLabel(done);
        count.visitVarInsn(Opcodes.ILOAD, 0);
        count.visitInsn(Opcodes.IRETURN);
        count.visitMaxs(0, 0);
        count.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }

    /** A class whose static initializer returns an int from a void method. */
    private static byte[] brokenClass() {
        ClassWriter writer = new ClassWriter(0);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC, "shipped/Broken", null, "java/lang/Object", null);
        MethodVisitor init = writer.visitMethod(Opcodes.ACC_STATIC, "<clinit>", "()V", null, null);
        init.visitCode();
        init.visitInsn(Opcodes.ICONST_0);
        init.visitInsn(Opcodes.IRETURN);
        init.visitMaxs(1, 0);
        init.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }

    private static MethodNode method(byte[] classFile, String name) {
        ClassNode type = new ClassNode();
        new ClassReader(classFile).accept(type, ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
        return type.methods.stream().filter(method -> method.name.equals(name)).findFirst().orElseThrow();
    }

    /** The opcodes of the method's instructions, with a deadline check as {@link #CHECK}. */
    private static List<Integer> opcodes(MethodNode method) {
        List<Integer> opcodes = new ArrayList<>();
        for (AbstractInsnNode instruction : method.instructions) {
            if (instruction instanceof MethodInsnNode call && call.owner.equals(DEADLINE)) {
                opcodes.add(CHECK);
            } else if (instruction.getOpcode() >= 0) {
                opcodes.add(instruction.getOpcode());
            }
        }
        return opcodes;
    }
}
