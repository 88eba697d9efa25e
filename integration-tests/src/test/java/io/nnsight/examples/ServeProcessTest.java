package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonObject;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.server.ModelServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code nnsight serve} as a user starts it: the built {@code nnsight.jar} in a JVM of its own, whose class
 * path is the jar and its {@code lib/}, without this test's classes. A trace that calls a helper of this
 * test runs there only because the helper's class travels with the job.
 */
class ServeProcessTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    private static final String KEY = "integration-test-key";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    /** Code of this test that the server does not have: it must be shipped. */
    static final class Helper {
        static long topToken(Tensor logits) {
            return logits.select(1, -1).argmax().item_long();
        }
    }

    /**
     * The Java installations to run the server on: this test's, and one of each other feature version installed
     * beside it (a client on one Java works with a server on another).
     */
    static Stream<Path> serverJavas() throws IOException {
        Path own = Path.of(System.getProperty("java.home")).toRealPath();
        Map<Integer, Path> byFeature = new TreeMap<>();
        byFeature.put(Runtime.version().feature(), own);
        Path installed = own.getParent();
        try (Stream<Path> homes = Files.list(installed)) {
            homes.filter(home -> Files.isExecutable(home.resolve("bin/java")) && Files.isRegularFile(home.resolve("release")))
                    .sorted()
                    .forEach(home -> feature(home).filter(feature -> feature >= 17)
                            .ifPresent(feature -> byFeature.putIfAbsent(feature, home)));
        }
        return byFeature.values().stream();
    }

    /** The feature version a Java installation's {@code release} file names. */
    private static Optional<Integer> feature(Path home) {
        try {
            for (String line : Files.readAllLines(home.resolve("release"))) {
                Matcher version = Pattern.compile("JAVA_VERSION=\"(\\d+)[.\"].*").matcher(line);
                if (version.matches()) {
                    return Optional.of(Integer.parseInt(version.group(1)));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not an installation we can use
        }
        return Optional.empty();
    }

    @ParameterizedTest
    @MethodSource("serverJavas")
    void serve_inAJvmOfItsOwn_runsShippedHelpers_andStopsOnSigterm(Path javaHome, @TempDir Path dir) throws Exception {
        Path stories = SharedFiles.path("models/stories260K");
        Path keys = Files.writeString(dir.resolve("keys.txt"), KEY + "\n");
        Process server = new ProcessBuilder(List.of(javaHome.resolve("bin").resolve("java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", cliJar().toString(), "serve", "--model", stories.toString(),
                "--port", "0", "--api-keys", keys.toString()))
                .redirectErrorStream(true)
                .start();
        try {
            ServerOutput output = new ServerOutput(server, START_TIMEOUT);
            String url = output.awaitServing();
            LanguageModel lm = LanguageModel.load(stories.toString());

            long served = lm.on(Remote.on(url).apiKey(KEY).quiet()).trace(PROMPT, tr -> Helper.topToken(lm.get("lm_head").output()));

            long local = lm.trace(PROMPT, tr -> Helper.topToken(lm.get("lm_head").output()));
            assertEquals(local, served);
            assertEquals(338, served, "the reference's next token after the prompt");
            assertTrue(systemProperties(javaHome, server).contains(ModelServer.MAX_PHYSICAL_BYTES + "=0"),
                    "a JVM that only serves skips JavaCPP's physical-memory check");
            JsonObject env;
            try (HttpTransport http = new HttpTransport(url, KEY)) {
                env = http.env();
            }
            assertEquals(env.get("javaFeature").getAsInt() >= 21 ? "continuations" : "threads",
                    env.get("engine").getAsString(), "the jar's manifest exports jdk.internal.vm: bodies run on the "
                    + "model's thread where the JDK has continuations");

            // SIGTERM, as a service manager stops it (Process.destroy() would also close our end of its output).
            assertTrue(server.toHandle().destroy());
            assertTrue(server.waitFor(30, TimeUnit.SECONDS), "the server did not stop on SIGTERM:\n" + output);
            output.finished().get(10, TimeUnit.SECONDS);
            assertTrue(output.toString().contains("nnsight: stopped serving on " + url), output.toString());
        } finally {
            server.destroyForcibly();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The system properties of the running JVM {@code process}, as {@code jcmd} lists them. */
    private static String systemProperties(Path javaHome, Process process) throws IOException, InterruptedException {
        Process jcmd = new ProcessBuilder(javaHome.resolve("bin").resolve("jcmd").toString(), Long.toString(process.pid()),
                "VM.system_properties").redirectErrorStream(true).start();
        String listed = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(jcmd.waitFor(60, TimeUnit.SECONDS), "jcmd did not end");
        return listed;
    }

    /** The built {@code cli/target/nnsight.jar}, with its libraries in {@code lib/} beside it. */
    static Path cliJar() {
        String property = System.getProperty("nnsight.cli.jar");
        Path jar = property == null ? null : Path.of(property);
        if (jar == null || !Files.isRegularFile(jar) || !Files.isDirectory(jar.resolveSibling("lib"))) {
            fail("no built nnsight.jar with its lib/ at " + property + ": run the tests with ./mvnw verify, which "
                    + "packages the cli module before these tests");
        }
        return jar;
    }
}
