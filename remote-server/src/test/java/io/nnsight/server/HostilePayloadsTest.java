package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.Output;
import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.lm.LanguageModel;
import io.nnsight.nn.RMSNorm;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.shipping.Shipment;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.LambdaSpec;
import java.io.ByteArrayOutputStream;
import java.io.Serializable;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.function.IntConsumer;
import java.util.stream.Stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

/**
 * What a stranger might send a model server: code that reaches for the machine, code that never ends or
 * exhausts memory, forged and malformed requests. Each gets a clear error, and afterwards the server still
 * answers a normal job correctly.
 */
class HostilePayloadsTest {
    private static final String PROMPT = "Once upon a time";
    private static final Duration TIME_LIMIT = Duration.ofSeconds(3);

    private static LanguageModel lm;
    private static ModelServer server;
    private static Remote remote;
    private static HttpTransport http;

    @BeforeAll
    static void start() {
        lm = LanguageModel.load(TestServers.shared("models/stories260K").toString());
        server = ModelServer.builder().model(lm.key(), lm).port(0)
                .apiKeys(Set.of(ALICE)).timeLimit(TIME_LIMIT).maxRequestBytes(4 << 20)
                .maxDecompressedRequestBytes(16 << 20).start();
        remote = Remote.on(server.url()).apiKey(ALICE).quiet();
        http = new HttpTransport(server.url(), ALICE);
    }

    @AfterAll
    static void stop() {
        http.close();
        server.close();
    }

    /** Code the sandbox refuses before defining it: the error names what was refused and why. */
    private static DynamicTest refused(String name, String reason, TraceBody<?> body) {
        return dynamicTest(name, () -> {
            RemoteException error = assertThrows(RemoteException.class, () -> lm.on(remote).trace(PROMPT, body));
            assertTrue(error.getMessage().contains("sandbox refused"), error.getMessage());
            assertTrue(error.getMessage().contains(reason), "expected \"" + reason + "\" in " + error.getMessage());
        });
    }

    /** Code that passes the checks but fails as it runs: the error says how, briefly, in the user's terms. */
    private static DynamicTest failing(String name, String description, TraceBody<?> body) {
        return dynamicTest(name, () -> {
            RemoteException error = assertTimeoutPreemptively(TIME_LIMIT.plusSeconds(20),
                    () -> assertThrows(RemoteException.class, () -> lm.on(remote).trace(PROMPT, body)));
            assertTrue(error.getMessage().contains(description), "expected \"" + description + "\" in "
                    + error.getMessage());
            assertFalse(error.getMessage().contains("frame #"), "libtorch's native frames: " + error.getMessage());
            assertTrue(error.getMessage().length() < 3000, "a long description: " + error.getMessage());
        });
    }

    /** A request the client library would never send: the server's answer names the problem. */
    private static DynamicTest forged(String name, String description, Executable request) {
        return dynamicTest(name, () -> {
            RemoteException error = assertThrows(RemoteException.class, request);
            assertTrue(error.getMessage().contains(description), "expected \"" + description + "\" in "
                    + error.getMessage());
        });
    }

    @TestFactory
    Stream<DynamicTest> hostilePayloads_eachGetsAClearError_thenANormalJobRuns() {
        int threads = torch.get_num_threads();
        Tensor expected = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
        List<DynamicTest> tests = new ArrayList<>(List.of(
                refused("reads a file", "files are off limits", tr -> readFile()),
                refused("opens a socket", "network access is off limits", tr -> connect()),
                refused("starts a process", "processes", tr -> startProcess()),
                refused("stops the JVM", "it would stop the server", tr -> {
                    System.exit(3);
                    return null;
                }),
                refused("reflects on a class", "reflection", tr -> String.class.getDeclaredFields().length),
                refused("reaches for a class loader", "class loaders", tr -> ClassLoader.getSystemClassLoader()),
                refused("starts a thread", "threads", tr -> {
                    new Thread(() -> { }).start();
                    return null;
                }),
                refused("reaches for Unsafe", "JDK internals", tr -> sun.misc.Unsafe.class.getName()),
                refused("allocates native memory", "native memory", tr -> new BytePointer(1 << 20).capacity()),
                refused("reads the server's environment", "environment", tr -> System.getenv("HOME")),
                refused("loads a native library", "native code", tr -> {
                    System.loadLibrary("c");
                    return null;
                }),
                refused("locks a shared object", "locks", tr -> {
                    synchronized (lm) {
                        return 1;
                    }
                }),
                refused("loads a model of its own", "the server loads the models", tr -> LanguageModel.load("/etc")),
                refused("changes torch's threads for every job", "global settings", tr -> {
                    torch.set_num_threads(64);
                    return null;
                }),
                refused("edits the hosted model for every later job", "shared by every job", tr -> {
                    lm.editInPlace(edit -> lm.get("model.embed_tokens").input());
                    return null;
                }),
                refused("clears the hosted model's edits", "shared by every job", tr -> {
                    lm.clearEdits();
                    return null;
                }),
                refused("renames the hosted model's modules for every later job", "shared by every job", tr -> {
                    lm.rename(Map.of("model.layers", "blocks"));
                    return null;
                }),
                refused("writes the hosted model's edits to a file", "files are off limits", tr -> {
                    try {
                        lm.edit(edit -> lm.get("model.norm").output()).exportEdits(Path.of("/tmp/edits.nnedits"));
                    } catch (java.io.IOException e) {
                        return e.getMessage();
                    }
                    return null;
                }),
                refused("imports edits from a file on the server", "files are off limits", tr -> {
                    try {
                        return lm.importEdits(Path.of("/tmp/edits.nnedits")).edits().size();
                    } catch (java.io.IOException e) {
                        return e.getMessage();
                    }
                }),
                refused("rebinds a weight's storage to an alias", "storage, shape or flags", tr -> {
                    Tensor alias = torch.empty(0);
                    alias.set_(norm().weight());
                    return alias.mul_(new Scalar(2.0)).sum().item_float();
                }),
                refused("flips a weight's negation flag", "storage, shape or flags", tr -> {
                    norm().weight()._set_neg(true);
                    return null;
                }),
                refused("makes a weight require gradients", "storage, shape or flags", tr -> {
                    norm().weight().set_requires_grad(true);
                    return null;
                }),
                refused("resizes a weight", "storage, shape or flags", tr -> norm().weight().resize_(new long[] {1}).dim()),
                dynamicTest("reads native addresses as text: none is there", () -> {
                    String text = lm.on(remote).trace(PROMPT, tr -> new Scalar(1.0).toString() + " " + List.of(new Scalar(2.0))
                            + " " + String.format("%s", (Object) new Scalar(3.0)));
                    assertFalse(text.contains("address="), text);
                    assertTrue(text.matches("Scalar@[0-9a-f]+ \\[Scalar@[0-9a-f]+\\] Scalar@[0-9a-f]+"), text);
                }),
                refused("matches a catastrophic regular expression", "regular expression",
                        tr -> "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!".matches("(a+)+b")),
                refused("compiles a regular expression", "regular expression",
                        tr -> java.util.regex.Pattern.compile("(a|aa)+$").matcher("aaaaaaaaaaaaaaaaaaaaaaaaaaaa!").find()),
                failing("loops forever", "time limit", tr -> {
                    long spins = 0;
                    while (spins >= 0) {
                        spins = (spins + 1) % 1000;
                    }
                    return spins;
                }),
                failing("allocates a huge array", "out of memory", tr -> new long[Integer.MAX_VALUE - 8].length),
                failing("allocates a huge tensor", "allocate", tr -> torch.zeros(1L << 40).size(0)),
                failing("recurses without end", "StackOverflowError", tr -> recurse(0)),
                failing("throws", "IllegalStateException: refused by the body", tr -> {
                    throw new IllegalStateException("refused by the body");
                }),
                forged("a Kryo gadget of a JDK class", "cannot be a value of a job",
                        () -> run(envelope(Map.of(), gadget("java.lang.invoke.MethodHandles$Lookup")))),
                forged("a Kryo gadget of a server class", "cannot be a value of a job",
                        () -> run(envelope(Map.of(), gadget("io.nnsight.server.ModelServer")))),
                forged("a native pointer rebuilt from the request", "native object of org.bytedeco.pytorch.Half",
                        () -> run(envelope(Map.of(), gadget("org.bytedeco.pytorch.Half")))),
                forged("a lambda bound to a method its class inherits from torch", "does not declare",
                        HostilePayloadsTest::runLambdaBoundToInheritedMethod),
                forged("a class file that is not one", "they are not a class file",
                        () -> run(envelope(Map.of("com.example.Evil", new byte[] {1, 2, 3}), gadget(null)))),
                forged("a malformed request", "not an nnsight job",
                        () -> run("garbage, not a job".getBytes(StandardCharsets.UTF_8))),
                forged("a decompression bomb", "too large",
                        () -> http.submit(lm.key(), Compression.compress(new byte[64 << 20]))),
                forged("an oversized request", "too large", () -> http.submit(lm.key(), random(5 << 20))),
                forged("a wrong API key", "refused the API key", () -> {
                    try (HttpTransport stranger = new HttpTransport(server.url(), "not-a-key")) {
                        stranger.submit(lm.key(), Compression.compress(new byte[16]));
                    }
                }),
                forged("a forged job id", "404", () -> http.poll(UUID.randomUUID().toString())),
                forged("a path in place of a job id", "HTTP 400", () -> http.download("..%2F..%2Fetc%2Fpasswd", 1 << 20))));
        tests.add(dynamicTest("afterwards, a normal job gives the right numbers", () -> {
            Tensor served = lm.on(remote).trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
            assertTrue(expected.equal(served));
            assertEquals(List.of(), lm.edits());
            assertEquals(threads, torch.get_num_threads());
        }));
        assertTrue(tests.size() >= 33);
        return tests.stream();
    }

    private static RMSNorm norm() {
        return (RMSNorm) lm.get("model.norm").module();
    }

    /** A class of the attacker's that inherits torch's static methods, refused or not. */
    static final class TorchHeir extends torch {
        static void harmless(int threads) {}
    }

    /** A serializable lambda type of the attacker's, so that the lambda travels in the request's values. */
    interface IntAction extends IntConsumer, Serializable {}

    /**
     * Ships a body that calls a lambda bound to {@code TorchHeir.harmless(int)}, with the request rewritten to
     * bind it to {@code set_num_threads(int)}, which {@code TorchHeir} inherits from torch and the sandbox
     * refuses: the server must not resolve it.
     */
    private static void runLambdaBoundToInheritedMethod() {
        IntAction action = TorchHeir::harmless;
        TraceBody<Integer> body = tr -> {
            action.accept(97);
            return torch.get_num_threads();
        };
        Envelope honest = Shipment.of(new TraceJob<>(lm, PROMPT, body)).envelope();
        List<LambdaSpec> lambdas = honest.lambdas().stream()
                .map(spec -> !spec.implName().equals("harmless") ? spec : new LambdaSpec(spec.capturingClass(),
                        spec.functionalInterface(), spec.interfaceMethod(), spec.interfaceMethodType(), spec.implKind(),
                        spec.implClass(), "set_num_threads", spec.implDescriptor(), spec.instantiatedType(),
                        spec.capturedCount()))
                .toList();
        String graph = new String(honest.graph(), StandardCharsets.ISO_8859_1);
        assertTrue(graph.contains(ascii("harmless")));
        byte[] forged = graph.replace(ascii("harmless"), ascii("set_num_threads")).getBytes(StandardCharsets.ISO_8859_1);
        run(new Envelope(honest.kind(), honest.modelKey(), honest.javaFeature(), honest.classes(), lambdas, forged).write());
    }

    private static byte[] readFile() {
        try {
            return Files.readAllBytes(Path.of("/etc/hostname"));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean connect() {
        try (Socket socket = new Socket("127.0.0.1", 9)) {
            return socket.isConnected();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static int startProcess() {
        try {
            return new ProcessBuilder("true").start().waitFor();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static int recurse(int depth) {
        return recurse(depth + 1) + 1;
    }

    /** Submits a raw request payload and waits for its end. */
    private static void run(byte[] request) {
        String id = http.submit(lm.key(), Compression.compress(request)).id();
        http.stream(id, message -> { });
        assertEquals(0, http.download(id, 1 << 20).length, "a forged request completed");
    }

    private static byte[] envelope(Map<String, byte[]> classes, byte[] graph) {
        return new Envelope("TRACE", lm.key(), Runtime.version().feature(), classes, List.of(), graph).write();
    }

    /**
     * An object graph whose root is an instance of {@code className} (made without running a constructor),
     * as Kryo writes it; {@code null} for an empty graph.
     */
    private static byte[] gadget(String className) {
        Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(false);
        kryo.setReferences(true);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Output output = new Output(bytes)) {
            kryo.writeClassAndObject(output, className == null ? null : new Placeholder());
        }
        if (className == null) {
            return bytes.toByteArray();
        }
        String written = new String(bytes.toByteArray(), StandardCharsets.ISO_8859_1);
        String placeholder = ascii(Placeholder.class.getName());
        assertTrue(written.contains(placeholder));
        return written.replace(placeholder, ascii(className)).getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A class name as Kryo writes an ASCII string: the last character's high bit set. */
    private static String ascii(String name) {
        return name.substring(0, name.length() - 1) + (char) (name.charAt(name.length() - 1) | 0x80);
    }

    private static byte[] random(int size) {
        byte[] bytes = new byte[size];
        new Random(7).nextBytes(bytes);
        return bytes;
    }

    /** Stands in for a class the gadget names. */
    static final class Placeholder {}
}
