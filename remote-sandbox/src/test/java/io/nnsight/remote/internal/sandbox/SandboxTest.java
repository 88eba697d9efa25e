package io.nnsight.remote.internal.sandbox;

import static io.nnsight.remote.internal.allowlist.Reason.CLASS_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.EXIT;
import static io.nnsight.remote.internal.allowlist.Reason.FILES;
import static io.nnsight.remote.internal.allowlist.Reason.FINALIZER;
import static io.nnsight.remote.internal.allowlist.Reason.GLOBAL_SETTINGS;
import static io.nnsight.remote.internal.allowlist.Reason.HOSTED_MODEL;
import static io.nnsight.remote.internal.allowlist.Reason.JDK_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.LOCKS;
import static io.nnsight.remote.internal.allowlist.Reason.MODEL_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.NATIVE_CODE;
import static io.nnsight.remote.internal.allowlist.Reason.NATIVE_MEMORY;
import static io.nnsight.remote.internal.allowlist.Reason.NETWORK;
import static io.nnsight.remote.internal.allowlist.Reason.NNSIGHT_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.PROCESSES;
import static io.nnsight.remote.internal.allowlist.Reason.REFLECTION;
import static io.nnsight.remote.internal.allowlist.Reason.SAVING_AND_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.SERVER_CONSOLE;
import static io.nnsight.remote.internal.allowlist.Reason.SERVER_SETTINGS;
import static io.nnsight.remote.internal.allowlist.Reason.THREADS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nnsight.remote.internal.allowlist.Reason;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

class SandboxTest {
    private static final int SERVER_JAVA = Runtime.version().feature();
    private static final String HINT = "Intervention code may use the nnsight API, tensor operations, java.lang "
            + "basics, collections, streams and math; compute such values before the trace and capture them.";

    private final Sandbox sandbox = Sandbox.server();

    static Stream<Arguments> hostileCode() {
        return Stream.of(
                Arguments.of(Hostile.DeletesFile.class, "run", "java.io.File", FILES),
                Arguments.of(Hostile.StartsProcess.class, "run", "java.lang.Runtime", PROCESSES),
                Arguments.of(Hostile.LoadsClassByName.class, "run", "java.lang.Class.forName(String)", REFLECTION),
                Arguments.of(Hostile.StartsThread.class, "run", "java.lang.Thread", THREADS),
                Arguments.of(Hostile.Exits.class, "run", "java.lang.System.exit(int)", EXIT),
                Arguments.of(Hostile.ReadsEnvironment.class, "run", "java.lang.System.getenv()", SERVER_SETTINGS),
                Arguments.of(Hostile.Reflects.class, "run", "java.lang.Class.getDeclaredMethod(String, Class[])",
                        REFLECTION),
                Arguments.of(Hostile.AllocatesDirectMemory.class, "run", "java.nio.ByteBuffer", NATIVE_MEMORY),
                Arguments.of(Hostile.UsesUnsafe.class, "run", "sun.misc.Unsafe", JDK_INTERNALS),
                Arguments.of(Hostile.OpensSocket.class, "run", "java.net.Socket", NETWORK),
                Arguments.of(Hostile.DefinesClasses.class, null, "extends java.lang.ClassLoader", CLASS_LOADING),
                Arguments.of(Hostile.CallsNative.class, "poke", "native method poke", NATIVE_CODE),
                Arguments.of(Hostile.PicklesTensor.class, "run",
                        "org.bytedeco.pytorch.global.torch.pickle_save(IValue)", SAVING_AND_LOADING),
                Arguments.of(Hostile.ArchivesTensor.class, "run", "org.bytedeco.pytorch.OutputArchive",
                        SAVING_AND_LOADING),
                Arguments.of(Hostile.ReadsDataPointer.class, "run", "org.bytedeco.pytorch.Tensor.data_ptr()",
                        NATIVE_MEMORY),
                Arguments.of(Hostile.ReadsAddress.class, "run", "org.bytedeco.pytorch.Tensor.address()", NATIVE_MEMORY),
                Arguments.of(Hostile.SeedsGlobally.class, "run", "org.bytedeco.pytorch.global.torch.manual_seed(long)",
                        GLOBAL_SETTINGS),
                Arguments.of(Hostile.ChangesModule.class, "run",
                        "org.bytedeco.pytorch.Module.register_parameter(String, Tensor, boolean)", HOSTED_MODEL),
                Arguments.of(Hostile.Waits.class, "run", "java.lang.Object.wait()", THREADS),
                Arguments.of(Hostile.LocksSharedObject.class, "run", "synchronized block", LOCKS),
                Arguments.of(Hostile.Finalizes.class, "finalize", "finalize()", FINALIZER),
                Arguments.of(Hostile.RunsInParallel.class, "run", "java.util.List.parallelStream()", THREADS),
                Arguments.of(Hostile.LoadsModel.class, "run", "io.nnsight.lm.LanguageModel.load(String)",
                        MODEL_LOADING),
                Arguments.of(Hostile.UsesInternals.class, "run", "io.nnsight.spi.CapturedClasses", NNSIGHT_INTERNALS),
                Arguments.of(Hostile.PrintsToServerConsole.class, "run", "java.lang.Exception.printStackTrace()",
                        SERVER_CONSOLE));
    }

    @ParameterizedTest(name = "{2}")
    @MethodSource("hostileCode")
    void prepare_hostileCode_isRefusedNamingTheReferenceAndTheReason(
            Class<?> hostile, String method, String reference, Reason reason) {
        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(ClassFiles.of(hostile)));

        String location = hostile.getName() + (method == null ? ":" : "." + method);
        String expected = reference + " — " + reason;
        assertTrue(refused.violations().stream().anyMatch(line -> line.startsWith(location) && line.endsWith(expected)),
                () -> "expected a line starting with " + location + " and ending with " + expected + " in\n"
                        + refused.getMessage());
    }

    @Test
    void prepare_manyHostileClasses_listsEveryViolationOnItsOwnLineAndEndsWithAHint() {
        Map<String, byte[]> classes = ClassFiles.of(
                Hostile.DeletesFile.class, Hostile.Exits.class, Hostile.OpensSocket.class, Hostile.CallsNative.class);

        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(classes));

        String[] lines = refused.getMessage().split("\n");
        assertEquals("The server's sandbox refused the shipped code:", lines[0]);
        assertEquals(refused.violations().size() + 2, lines.length);
        for (int i = 0; i < refused.violations().size(); i++) {
            assertEquals("  " + refused.violations().get(i), lines[i + 1]);
        }
        assertEquals(HINT, lines[lines.length - 1]);
        for (Class<?> hostile : List.of(Hostile.DeletesFile.class, Hostile.Exits.class, Hostile.OpensSocket.class,
                Hostile.CallsNative.class)) {
            assertTrue(refused.violations().stream().anyMatch(line -> line.startsWith(hostile.getName())),
                    () -> hostile + " missing from\n" + refused.getMessage());
        }
    }

    @Test
    void prepare_refusedClass_isNeverInitialized() {
        assertThrows(SandboxException.class, () -> sandbox.prepare(ClassFiles.of(Hostile.Exits.class)));

        assertNull(System.getProperty("nnsight.sandbox.test.ran"));
    }

    @Test
    void prepare_benignCode_passesAndRunsAsCompiled() throws Exception {
        Map<String, byte[]> prepared = sandbox.prepare(ClassFiles.of(Benign.class)).classes();
        JobClassLoader loader = new JobClassLoader(prepared, getClass().getClassLoader());

        for (Class<?> benign : List.of(Benign.Streams.class, Benign.RecordsAndEnums.class, Benign.ControlFlow.class,
                Benign.TensorMath.class)) {
            Class<?> rewritten = loader.loadClass(benign.getName());
            assertEquals(loader, rewritten.getClassLoader());
            assertEquals(run(benign), run(rewritten), benign.getSimpleName());
        }
        assertEquals("2.0 Steps.range(0, 3) 1", run(loader.loadClass(Benign.TensorMath.class.getName())));
    }

    @Test
    void prepare_patternSwitchesOfJava21_passAndRun() throws Exception {
        assumeTrue(SERVER_JAVA >= 21, "Java 21 compiles pattern switches");
        Map<String, byte[]> classes = ClassFiles.compile("shipped.Switches", String.join("\n",
                "package shipped;",
                "public class Switches implements java.util.function.Supplier<Object> {",
                "    sealed interface Shape permits Circle, Square, Kind {}",
                "    record Circle(double radius) implements Shape {}",
                "    record Square(double side) implements Shape {}",
                "    enum Kind implements Shape { EMPTY, FULL }",
                "    static String describe(Shape shape) {",
                "        return switch (shape) {",
                "            case Circle(double radius) when radius > 1 -> \"big circle\";",
                "            case Circle circle -> \"circle\";",
                "            case Square square -> \"square \" + square.side();",
                "            case Kind.EMPTY -> \"empty\";",
                "            case Kind.FULL -> \"full\";",
                "        };",
                "    }",
                "    public Object get() {",
                "        return describe(new Circle(2)) + \"|\" + describe(new Square(1)) + \"|\" + describe(Kind.FULL);",
                "    }",
                "}"), 21);

        JobClassLoader loader = new JobClassLoader(sandbox.prepare(classes).classes(), getClass().getClassLoader());

        assertEquals("big circle|square 1.0|full", run(loader.loadClass("shipped.Switches")));
    }

    @Test
    void prepare_returnsTheClassesUnderTheirNames() {
        Map<String, byte[]> shipped = ClassFiles.of(Benign.Streams.class);

        Map<String, byte[]> prepared = sandbox.prepare(shipped).classes();

        assertEquals(shipped.keySet(), prepared.keySet());
    }

    @Test
    void prepare_classForTheNextJava_isRewrittenDownAndRuns() throws Exception {
        Map<String, byte[]> newer = new LinkedHashMap<>();
        ClassFiles.of(Benign.class).forEach((name, classFile) ->
                newer.put(name, ClassFiles.withVersion(classFile, SERVER_JAVA + 45, 0)));

        Map<String, byte[]> prepared = sandbox.prepare(newer).classes();

        prepared.values().forEach(classFile -> assertEquals(SERVER_JAVA + 44, ClassFiles.majorVersion(classFile)));
        JobClassLoader loader = new JobClassLoader(prepared, getClass().getClassLoader());
        assertEquals(run(Benign.Streams.class), run(loader.loadClass(Benign.Streams.class.getName())));
    }

    @Test
    void prepare_classForTheNextJavaUsingWhatThisJavaLacks_namesBothVersionsAndTheMember() {
        Map<String, byte[]> classes = Map.of("shipped.Newer", classUsingMissingJdkMembers(SERVER_JAVA + 45));

        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(classes));

        String lacks =
                " — compiled for Java " + (SERVER_JAVA + 1) + ", and Java " + SERVER_JAVA + " on this server lacks it";
        assertEquals(List.of(
                        "shipped.Newer.run(7): java.util.List.reversedCopy()" + lacks,
                        "shipped.Newer.run(8): java.util.FutureCollection" + lacks),
                refused.violations());
        assertTrue(refused.getMessage().endsWith(
                "Compile for Java " + SERVER_JAVA + " (javac --release " + SERVER_JAVA + ") to run on this server."),
                refused::getMessage);
    }

    @Test
    void prepare_referenceToAMissingJdkMember_isRefusedAtAnyVersion() {
        Map<String, byte[]> classes = Map.of("shipped.Newer", classUsingMissingJdkMembers(Opcodes.V17));

        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(classes));

        assertEquals("shipped.Newer.run(7): java.util.List.reversedCopy() — it does not exist in Java " + SERVER_JAVA
                + " on this server", refused.violations().get(0));
    }

    @Test
    void prepare_previewFeatures_areRefused() {
        byte[] preview = ClassFiles.withVersion(ClassFiles.read(Benign.Point.class), SERVER_JAVA + 44, 0xFFFF);

        SandboxException refused = assertThrows(SandboxException.class,
                () -> sandbox.prepare(Map.of(Benign.Point.class.getName(), preview)));

        assertEquals(List.of(Benign.Point.class.getName() + ": preview features of Java " + SERVER_JAVA
                + " — preview features are not supported; compile without --enable-preview"), refused.violations());
    }

    @Test
    void prepare_classShadowingAServerClass_isRefused() {
        Map<String, byte[]> classes = Map.of(Deadline.class.getName(), ClassFiles.read(Deadline.class),
                "io.nnsight.NNsight", ClassFiles.read(io.nnsight.NNsight.class));

        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(classes));

        for (String name : classes.keySet()) {
            assertTrue(refused.violations().contains(name + ": its name — the server provides this name to shipped "
                    + "code; move the class to a package of your own"), refused::getMessage);
        }
    }

    @Test
    void prepare_classFileUnderAnotherName_isRefused() {
        Map<String, byte[]> classes = Map.of("com.example.Other", ClassFiles.read(Benign.Point.class));

        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(classes));

        assertEquals(List.of("com.example.Other: its class file — it holds " + Benign.Point.class.getName()
                + ", not com.example.Other"), refused.violations());
    }

    @Test
    void prepare_bytesThatAreNoClassFile_areRefused() {
        SandboxException refused = assertThrows(SandboxException.class,
                () -> sandbox.prepare(Map.of("com.example.Junk", new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})));

        assertEquals(List.of("com.example.Junk: its bytes — they are not a class file"), refused.violations());
    }

    @Test
    void prepare_exceptionHandlerBeforeTheCodeItProtects_isRefused() {
        SandboxException refused = assertThrows(SandboxException.class,
                () -> sandbox.prepare(Map.of("shipped.Looping", classLoopingThroughItsHandler())));

        assertEquals(List.of("shipped.Looping.run: an exception handler that can loop back into the code it "
                + "protects — " + Reason.UNCHECKED_LOOP), refused.violations());
    }

    @Test
    void prepare_methodHandleConstantsAndBootstrapsOfItsOwn_areRefused() {
        SandboxException refused = assertThrows(SandboxException.class,
                () -> sandbox.prepare(Map.of("shipped.Linker", classLinkingByItself())));

        String reflection = " — " + REFLECTION;
        assertEquals(List.of(
                        "shipped.Linker.bootstrap: java.lang.invoke.MethodHandles$Lookup" + reflection,
                        "shipped.Linker.bootstrap: java.lang.invoke.MethodType" + reflection,
                        "shipped.Linker.bootstrap: java.lang.invoke.CallSite" + reflection,
                        "shipped.Linker.run: java.lang.invoke.MethodHandle" + reflection,
                        "shipped.Linker.run: invokedynamic with bootstrap method shipped.Linker.bootstrap("
                                + "MethodHandles.Lookup, String, MethodType)" + reflection),
                refused.violations());
    }

    @Test
    void prepare_classesThatExtendEachOther_areCheckedWithoutEndlessSearching() {
        Map<String, byte[]> classes = Map.of("shipped.A", classCalling("shipped/A", "shipped/B"),
                "shipped.B", classCalling("shipped/B", "shipped/A"));

        SandboxException refused = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(SandboxException.class, () -> sandbox.prepare(classes)));

        assertTrue(refused.violations().contains(
                "shipped.A.run: shipped.A.missing() — it does not exist on this server"), refused::getMessage);
    }

    private static Object run(Class<?> supplier) throws ReflectiveOperationException {
        var constructor = supplier.getDeclaredConstructor();
        constructor.setAccessible(true);
        return ((Supplier<?>) constructor.newInstance()).get();
    }

    /** A class whose {@code run} calls {@code List.reversedCopy()} (line 7) and makes a {@code FutureCollection}. */
    private static byte[] classUsingMissingJdkMembers(int version) {
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_MAXS);
        writer.visit(version, Opcodes.ACC_PUBLIC, "shipped/Newer", null, "java/lang/Object", null);
        MethodVisitor run = writer.visitMethod(Opcodes.ACC_PUBLIC | Opcodes.ACC_STATIC, "run",
                "(Ljava/util/List;)Ljava/lang/Object;", null, null);
        run.visitCode();
        line(run, 7);
        run.visitVarInsn(Opcodes.ALOAD, 0);
        run.visitMethodInsn(Opcodes.INVOKEINTERFACE, "java/util/List", "reversedCopy", "()Ljava/util/List;", true);
        run.visitInsn(Opcodes.POP);
        line(run, 8);
        run.visitTypeInsn(Opcodes.NEW, "java/util/FutureCollection");
        run.visitInsn(Opcodes.ARETURN);
        run.visitMaxs(0, 0);
        run.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }

    /** A class that loads a method handle constant and links an {@code invokedynamic} with its own bootstrap. */
    private static byte[] classLinkingByItself() {
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_MAXS);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC, "shipped/Linker", null, "java/lang/Object", null);
        String bootstrapType = "(Ljava/lang/invoke/MethodHandles$Lookup;Ljava/lang/String;Ljava/lang/invoke/MethodType;)"
                + "Ljava/lang/invoke/CallSite;";
        MethodVisitor bootstrap = writer.visitMethod(Opcodes.ACC_STATIC, "bootstrap", bootstrapType, null, null);
        bootstrap.visitCode();
        bootstrap.visitInsn(Opcodes.ACONST_NULL);
        bootstrap.visitInsn(Opcodes.ARETURN);
        bootstrap.visitMaxs(0, 0);
        bootstrap.visitEnd();
        MethodVisitor run = writer.visitMethod(Opcodes.ACC_STATIC, "run", "()V", null, null);
        run.visitCode();
        run.visitLdcInsn(new Handle(Opcodes.H_INVOKESTATIC, "java/lang/System", "nanoTime", "()J", false));
        run.visitInsn(Opcodes.POP);
        run.visitInvokeDynamicInsn("go", "()V",
                new Handle(Opcodes.H_INVOKESTATIC, "shipped/Linker", "bootstrap", bootstrapType, false));
        run.visitInsn(Opcodes.RETURN);
        run.visitMaxs(0, 0);
        run.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }

    /** A class extending {@code superclass} whose {@code run} calls a method that no class declares. */
    private static byte[] classCalling(String name, String superclass) {
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_MAXS);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC, name, null, superclass, null);
        MethodVisitor run = writer.visitMethod(Opcodes.ACC_PUBLIC, "run", "()V", null, null);
        run.visitCode();
        run.visitVarInsn(Opcodes.ALOAD, 0);
        run.visitMethodInsn(Opcodes.INVOKEVIRTUAL, name, "missing", "()V", false);
        run.visitInsn(Opcodes.RETURN);
        run.visitMaxs(0, 0);
        run.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }

    /** A class whose handler lies before the code it protects, so that throwing there loops without a jump. */
    private static byte[] classLoopingThroughItsHandler() {
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_FRAMES);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC, "shipped/Looping", null, "java/lang/Object", null);
        MethodVisitor run = writer.visitMethod(Opcodes.ACC_PUBLIC | Opcodes.ACC_STATIC, "run", "()V", null, null);
        Label handler = new Label();
        Label start = new Label();
        Label end = new Label();
        run.visitCode();
        run.visitTryCatchBlock(start, end, handler, "java/lang/RuntimeException");
        run.visitJumpInsn(Opcodes.GOTO, start);
        run.visitLabel(handler);
        run.visitInsn(Opcodes.POP);
        run.visitLabel(start);
        run.visitTypeInsn(Opcodes.NEW, "java/lang/IllegalStateException");
        run.visitInsn(Opcodes.DUP);
        run.visitMethodInsn(Opcodes.INVOKESPECIAL, "java/lang/IllegalStateException", "<init>", "()V", false);
        run.visitInsn(Opcodes.ATHROW);
        run.visitLabel(end);
        run.visitMaxs(0, 0);
        run.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }

    private static void line(MethodVisitor method, int line) {
        Label label = new Label();
        method.visitLabel(label);
        method.visitLineNumber(line, label);
    }
}
