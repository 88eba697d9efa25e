package io.nnsight.remote.internal.sandbox;

import static io.nnsight.remote.internal.allowlist.Reason.CLASS_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.DEVICES;
import static io.nnsight.remote.internal.allowlist.Reason.EXIT;
import static io.nnsight.remote.internal.allowlist.Reason.FILES;
import static io.nnsight.remote.internal.allowlist.Reason.GLOBAL_SETTINGS;
import static io.nnsight.remote.internal.allowlist.Reason.HOSTED_MODEL;
import static io.nnsight.remote.internal.allowlist.Reason.JDK_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.MODEL_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.NATIVE_CODE;
import static io.nnsight.remote.internal.allowlist.Reason.NATIVE_MEMORY;
import static io.nnsight.remote.internal.allowlist.Reason.NETWORK;
import static io.nnsight.remote.internal.allowlist.Reason.NNSIGHT_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.NOT_ALLOWED;
import static io.nnsight.remote.internal.allowlist.Reason.PROCESSES;
import static io.nnsight.remote.internal.allowlist.Reason.REFLECTION;
import static io.nnsight.remote.internal.allowlist.Reason.SAVING_AND_LOADING;
import static io.nnsight.remote.internal.allowlist.Reason.SERVER_CONSOLE;
import static io.nnsight.remote.internal.allowlist.Reason.SERVER_SETTINGS;
import static io.nnsight.remote.internal.allowlist.Reason.THREADS;
import static io.nnsight.remote.internal.allowlist.Reason.TORCHSCRIPT;
import static io.nnsight.remote.internal.allowlist.Reason.TORCH_INTERNALS;
import static io.nnsight.remote.internal.allowlist.Reason.UNTRACKED_ALIAS;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.internal.allowlist.Reason;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * The allow-list as a specification: each row is one reference a shipped class makes and what the sandbox
 * says to it. A row names a class ({@code java.io.File}), a method ({@code java/lang/System.exit(I)V}) or a
 * field ({@code java/lang/System.out:Ljava/io/PrintStream;}); the test ships a class that makes exactly that
 * reference.
 */
class PolicyTest {
    static Stream<Arguments> references() {
        return Stream.of(
                // java.lang basics
                allowed("java.lang.String"),
                allowed("java/lang/Math.max(II)I"),
                allowed("java/lang/StringBuilder.length()I"), // declared in a package-private superclass
                allowed("java/lang/Object.getClass()Ljava/lang/Class;"),
                allowed("java.lang.IllegalArgumentException"),
                allowed("java.lang.OutOfMemoryError"),
                allowed("java.lang.Record"),
                allowed("java/lang/invoke/SerializedLambda.getImplMethodName()Ljava/lang/String;"),
                refused("java/lang/Object.wait()V", THREADS),
                refused("java/util/ArrayList.notifyAll()V", THREADS), // inherited from Object
                refused("java/lang/IllegalStateException.printStackTrace()V", SERVER_CONSOLE),
                allowed("java/lang/IllegalStateException.printStackTrace(Ljava/io/PrintStream;)V"),
                refused("java/lang/Integer.getInteger(Ljava/lang/String;)Ljava/lang/Integer;", SERVER_SETTINGS),
                // java.lang.Class: names and casts only
                allowed("java/lang/Class.getName()Ljava/lang/String;"),
                allowed("java/lang/Class.isInstance(Ljava/lang/Object;)Z"),
                refused("java/lang/Class.forName(Ljava/lang/String;)Ljava/lang/Class;", REFLECTION),
                refused("java/lang/Class.getDeclaredFields()[Ljava/lang/reflect/Field;", REFLECTION),
                refused("java/lang/Class.getClassLoader()Ljava/lang/ClassLoader;", CLASS_LOADING),
                refused("java/lang/Class.getResourceAsStream(Ljava/lang/String;)Ljava/io/InputStream;", CLASS_LOADING),
                // java.lang.System: clocks, arrays and printing only
                allowed("java/lang/System.out:Ljava/io/PrintStream;"),
                allowed("java/lang/System.nanoTime()J"),
                allowed("java/lang/System.arraycopy(Ljava/lang/Object;ILjava/lang/Object;II)V"),
                refused("java/lang/System.exit(I)V", EXIT),
                refused("java/lang/System.getenv()Ljava/util/Map;", SERVER_SETTINGS),
                refused("java/lang/System.getProperty(Ljava/lang/String;)Ljava/lang/String;", SERVER_SETTINGS),
                refused("java/lang/System.setOut(Ljava/io/PrintStream;)V", SERVER_SETTINGS),
                refused("java/lang/System.gc()V", SERVER_SETTINGS),
                refused("java/lang/System.in:Ljava/io/InputStream;", SERVER_SETTINGS),
                refused("java/lang/System.loadLibrary(Ljava/lang/String;)V", NATIVE_CODE),
                // the rest of java.lang
                refused("java.lang.Runtime", PROCESSES),
                refused("java.lang.ProcessBuilder", PROCESSES),
                refused("java.lang.Thread", THREADS),
                refused("java.lang.ThreadLocal", THREADS),
                refused("java.lang.ref.Cleaner", THREADS),
                refused("java.lang.ClassLoader", CLASS_LOADING),
                refused("java.lang.instrument.Instrumentation", CLASS_LOADING),
                refused("java.lang.reflect.Method", REFLECTION),
                refused("java.lang.invoke.MethodHandles", REFLECTION),
                refused("java.lang.StackWalker", REFLECTION),
                refused("java.lang.ModuleLayer", REFLECTION),
                refused("java.lang.foreign.MemorySegment", NATIVE_MEMORY),
                refused("java.lang.management.ManagementFactory", SERVER_SETTINGS),
                refused("java.lang.Compiler", NOT_ALLOWED),
                // collections, streams, math, text
                allowed("java.util.ArrayList"),
                allowed("java/util/List.of(Ljava/lang/Object;)Ljava/util/List;"),
                allowed("java.util.Map$Entry"),
                allowed("java/util/Random.nextLong(J)J"), // declared in java.util.random.RandomGenerator
                allowed("java.util.function.BiFunction"),
                allowed("java.util.stream.Collectors"),
                allowed("java.util.concurrent.ConcurrentHashMap"),
                allowed("java/util/concurrent/ConcurrentHashMap.forEach(Ljava/util/function/BiConsumer;)V"),
                allowed("java.util.concurrent.atomic.AtomicLong"),
                allowed("java.math.BigDecimal"),
                allowed("java.text.DecimalFormat"),
                refused("java/util/concurrent/ConcurrentHashMap.forEach(JLjava/util/function/BiConsumer;)V", THREADS),
                refused("java/util/List.parallelStream()Ljava/util/stream/Stream;", THREADS),
                refused("java/util/stream/IntStream.parallel()Ljava/util/stream/IntStream;", THREADS),
                refused("java/util/Arrays.parallelSort([I)V", THREADS),
                refused("java.util.stream.StreamSupport", THREADS),
                refused("java.util.concurrent.Executors", THREADS),
                refused("java.util.concurrent.CompletableFuture", THREADS),
                refused("java.util.Timer", THREADS),
                refused("java/util/Locale.setDefault(Ljava/util/Locale;)V", GLOBAL_SETTINGS),
                refused("java.util.ServiceLoader", CLASS_LOADING),
                refused("java.util.ResourceBundle", CLASS_LOADING),
                refused("java.util.Scanner", FILES),
                refused("java.util.Formatter", FILES),
                refused("java.util.zip.ZipFile", FILES),
                refused("java.util.prefs.Preferences", FILES),
                refused("java.util.logging.Logger", SERVER_SETTINGS),
                // java.io, java.nio, the network, the rest of the JDK
                allowed("java/io/PrintStream.println(Ljava/lang/String;)V"),
                allowed("java.io.UncheckedIOException"),
                refused("java/io/PrintStream.<init>(Ljava/lang/String;)V", FILES),
                refused("java/io/PrintStream.close()V", SERVER_SETTINGS),
                refused("java.io.File", FILES),
                refused("java.io.FileInputStream", FILES),
                refused("java.io.ObjectInputStream", FILES),
                refused("java.nio.file.Files", FILES),
                refused("java.nio.ByteBuffer", NATIVE_MEMORY),
                refused("java.net.URL", NETWORK),
                refused("java.net.http.HttpClient", NETWORK),
                refused("java.sql.DriverManager", NETWORK),
                refused("sun.misc.Unsafe", JDK_INTERNALS),
                refused("jdk.internal.misc.Unsafe", JDK_INTERNALS),
                refused("java.security.AccessController", SERVER_SETTINGS),
                refused("javax.script.ScriptEngineManager", NOT_ALLOWED),
                // nnsight
                allowed("io.nnsight.NNsight"),
                allowed("io/nnsight/Envoy.output()Lorg/bytedeco/pytorch/Tensor;"), // declared in package-private Accessor
                allowed("io/nnsight/Envoy.module()Lorg/bytedeco/pytorch/Module;"),
                allowed("io/nnsight/NNsight.save(Ljava/lang/Object;)Ljava/lang/Object;"),
                allowed("io.nnsight.nn.Linear"),
                allowed("io/nnsight/nn/Linear.weight()Lorg/bytedeco/pytorch/Tensor;"),
                allowed("io/nnsight/lm/Tokenizer.encode(Ljava/lang/String;)[J"),
                allowed("io.nnsight.lm.decoder.DecoderForCausalLM"),
                refused("io/nnsight/nn/Linear.train(Z)V", HOSTED_MODEL), // inherited from Bytedeco's Module
                refused("io/nnsight/lm/LanguageModel.load(Ljava/lang/String;)Lio/nnsight/lm/LanguageModel;", MODEL_LOADING),
                refused("io/nnsight/lm/LanguageModel.folder()Ljava/nio/file/Path;", MODEL_LOADING),
                refused("io.nnsight.lm.LanguageModel$Options", MODEL_LOADING),
                refused("io/nnsight/lm/Tokenizer.file()Ljava/nio/file/Path;", FILES), // by the type it returns
                refused("io/nnsight/lm/Tokenizer.close()V", HOSTED_MODEL),
                refused("io.nnsight.LibTorch", GLOBAL_SETTINGS),
                refused("io.nnsight.internal.TraceRun", NNSIGHT_INTERNALS),
                refused("io.nnsight.spi.HookPoint", NNSIGHT_INTERNALS),
                refused("io.nnsight.safetensors.SafeTensors", NNSIGHT_INTERNALS),
                refused("io.nnsight.hub.HubClient", NNSIGHT_INTERNALS),
                refused("io.nnsight.lm.internal.PromptInputs", NNSIGHT_INTERNALS),
                refused("io.nnsight.remote.internal.sandbox.Deadline", NNSIGHT_INTERNALS),
                // Bytedeco PyTorch: tensors, values, torch's functions
                allowed("org/bytedeco/pytorch/global/torch.softmax(Lorg/bytedeco/pytorch/Tensor;J)Lorg/bytedeco/pytorch/Tensor;"),
                allowed("org/bytedeco/pytorch/Tensor.mul(Lorg/bytedeco/pytorch/Scalar;)Lorg/bytedeco/pytorch/Tensor;"),
                allowed("org/bytedeco/pytorch/Tensor.create([F)Lorg/bytedeco/pytorch/Tensor;"),
                allowed("org/bytedeco/pytorch/Tensor.close()V"), // declared in javacpp's Pointer
                allowed("org/bytedeco/pytorch/Tensor.toString()Ljava/lang/String;"),
                allowed("org.bytedeco.pytorch.global.torch$ScalarType"),
                allowed("org.bytedeco.pytorch.TensorOptions"),
                allowed("org.bytedeco.pytorch.LongArrayRef"),
                allowed("org.bytedeco.pytorch.TensorOptionalVector"),
                allowed("org.bytedeco.pytorch.T_TensorTensor_T"),
                allowed("org/bytedeco/pytorch/LinearImpl.forward(Lorg/bytedeco/pytorch/Tensor;)Lorg/bytedeco/pytorch/Tensor;"),
                refused("org/bytedeco/pytorch/Tensor.data_ptr()Lorg/bytedeco/javacpp/Pointer;", NATIVE_MEMORY),
                refused("org/bytedeco/pytorch/Tensor.data_ptr_float()Lorg/bytedeco/javacpp/FloatPointer;", NATIVE_MEMORY),
                refused("org/bytedeco/pytorch/Tensor.address()J", NATIVE_MEMORY),
                refused("org/bytedeco/pytorch/Tensor.position(J)Lorg/bytedeco/pytorch/Tensor;", NATIVE_MEMORY),
                refused("org/bytedeco/pytorch/Tensor.storage()Lorg/bytedeco/pytorch/Storage;", NATIVE_MEMORY),
                refused("org/bytedeco/pytorch/Tensor.<init>(Lorg/bytedeco/javacpp/Pointer;)V", NATIVE_MEMORY),
                refused("org/bytedeco/pytorch/Tensor.print()V", SERVER_CONSOLE),
                refused("org/bytedeco/pytorch/Tensor.data()Lorg/bytedeco/pytorch/Tensor;", UNTRACKED_ALIAS),
                refused("org/bytedeco/pytorch/TensorBase.variable_data()Lorg/bytedeco/pytorch/TensorBase;", UNTRACKED_ALIAS),
                allowed("org/bytedeco/pytorch/Tensor.detach()Lorg/bytedeco/pytorch/Tensor;"),
                refused("org/bytedeco/pytorch/global/torch.manual_seed(J)V", GLOBAL_SETTINGS),
                refused("org/bytedeco/pytorch/global/torch.set_num_threads(I)V", GLOBAL_SETTINGS),
                refused("org/bytedeco/pytorch/global/torch.cuda_is_available()Z", DEVICES),
                refused("org/bytedeco/pytorch/global/torch.get_env(Ljava/lang/String;)Lorg/bytedeco/pytorch/StringOptional;",
                        SERVER_SETTINGS),
                refused("org.bytedeco.pytorch.OutputArchive", SAVING_AND_LOADING),
                refused("org.bytedeco.pytorch.InputArchive", SAVING_AND_LOADING),
                refused("org.bytedeco.pytorch.JitModule", TORCHSCRIPT),
                refused("org.bytedeco.pytorch.CompilationUnit", TORCHSCRIPT),
                refused("org.bytedeco.pytorch.Storage", NATIVE_MEMORY),
                refused("org.bytedeco.pytorch.Allocator", NATIVE_MEMORY),
                refused("org.bytedeco.pytorch.cuda.CUDAStream", DEVICES),
                refused("org.bytedeco.pytorch.TensorImpl", TORCH_INTERNALS),
                refused("org.bytedeco.pytorch.IValue", TORCH_INTERNALS),
                refused("org/bytedeco/pytorch/LinearImpl.weight()Lorg/bytedeco/pytorch/Tensor;", HOSTED_MODEL),
                refused("org/bytedeco/pytorch/Module.register_parameter(Ljava/lang/String;Lorg/bytedeco/pytorch/Tensor;Z)"
                        + "Lorg/bytedeco/pytorch/Tensor;", HOSTED_MODEL),
                // javacpp: scopes only
                allowed("org/bytedeco/javacpp/PointerScope.<init>()V"),
                allowed("org/bytedeco/javacpp/PointerScope.attach(Lorg/bytedeco/javacpp/Pointer;)Lorg/bytedeco/javacpp/PointerScope;"),
                refused("org/bytedeco/javacpp/PointerScope.deallocate()V", NATIVE_MEMORY),
                refused("org.bytedeco.javacpp.BytePointer", NATIVE_MEMORY),
                refused("org.bytedeco.javacpp.Loader", NATIVE_MEMORY));
    }

    @ParameterizedTest(name = "{0} → {1}")
    @MethodSource("references")
    void prepare_reference_getsTheVerdictOfTheTable(String reference, Reason expected) {
        Map<String, byte[]> probe = Map.of("shipped.Probe", probe(reference));

        if (expected == null) {
            assertDoesNotThrow(() -> Sandbox.server().prepare(probe));
        } else {
            SandboxException refused = assertThrows(SandboxException.class, () -> Sandbox.server().prepare(probe));
            assertEquals(1, refused.violations().size(), refused::getMessage);
            assertTrue(refused.violations().get(0).endsWith(" " + expected), refused::getMessage);
        }
    }

    private static Arguments allowed(String reference) {
        return Arguments.of(reference, null);
    }

    private static Arguments refused(String reference, Reason reason) {
        return Arguments.of(reference, reason);
    }

    /** A class whose one method makes just this reference: a class constant, a method call or a field read. */
    private static byte[] probe(String reference) {
        ClassWriter writer = new ClassWriter(0);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC, "shipped/Probe", null, "java/lang/Object", null);
        MethodVisitor probe = writer.visitMethod(Opcodes.ACC_STATIC, "probe", "()V", null, null);
        probe.visitCode();
        int dot = reference.indexOf('.');
        if (!reference.contains("/")) {
            probe.visitLdcInsn(Type.getObjectType(reference.replace('.', '/')));
        } else if (reference.contains("(")) {
            int parenthesis = reference.indexOf('(');
            probe.visitMethodInsn(Opcodes.INVOKESTATIC, reference.substring(0, dot),
                    reference.substring(dot + 1, parenthesis), reference.substring(parenthesis), false);
        } else {
            int colon = reference.indexOf(':');
            probe.visitFieldInsn(Opcodes.GETSTATIC, reference.substring(0, dot), reference.substring(dot + 1, colon),
                    reference.substring(colon + 1));
        }
        probe.visitInsn(Opcodes.RETURN);
        probe.visitMaxs(4, 0);
        probe.visitEnd();
        writer.visitEnd();
        return writer.toByteArray();
    }
}
