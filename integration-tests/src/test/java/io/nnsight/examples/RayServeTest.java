package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code nnsight serve --ray} as deployed: a local Ray cluster of two nodes ({@code ray start --head} and a second
 * {@code ray start}), the server in a JVM of its own hosting two replicas of stories260K as Ray actors, 16 clients
 * tracing and generating on it at once, and one replica's process killed while it runs jobs: no job is lost, every
 * client gets the right logits or tokens (the killed replica's jobs run again on the other) or a clear error, and
 * the cluster serves on, with the killed replica restarted by Ray; a replica killed while idle is found by the
 * server's health check. The replicas batch waiting jobs as the server's own model does (traces in shared forward
 * passes, generations in one continuous batch), so the logits are compared within 1e-4 of a local trace (a batched
 * float32 matrix product may sum in another order) and the greedy tokens exactly, and run trace bodies as
 * continuations on JDK 21+, as {@code nnsight serve} does.
 *
 * <p>Needs Ray ({@code pip install ray}): the folder of its {@code ray} command in {@code nnsight.ray.bin} or
 * {@value #RAY_BIN}, which {@code .ci/run} sets; without it the test is skipped, unless {@value #REQUIRE_RAY} is
 * set, as on CI. Pitfall: it runs {@code ray stop --force} before (a crashed run's leftovers) and after, which stops
 * every Ray process of this user: do not set {@value #RAY_BIN} beside a Ray cluster of your own. After, it deletes
 * the copy of Ray's native library (40 MB) in the session folder of its cluster, keeping the logs there.
 */
class RayServeTest {
    static final String RAY_BIN = "NNSIGHT_RAY_BIN";
    static final String REQUIRE_RAY = "NNSIGHT_REQUIRE_RAY";
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    private static final int CLIENTS = 16;
    private static final double TOLERANCE = 1e-4;
    /** Where Ray keeps its files on this machine: a session folder per cluster, a folder per driver. */
    private static final Path RAY_FILES = Path.of("/tmp/ray");
    private static final String RAY_LIBRARY = System.mapLibraryName("core_worker_library_java");
    private static Path ray;
    private static Map<String, String> environment;
    /** The session folders there before the cluster started. */
    private static Set<Path> earlierSessions;

    @BeforeAll
    static void startCluster() throws Exception {
        String bin = System.getProperty("nnsight.ray.bin", System.getenv(RAY_BIN));
        if (bin == null || bin.isBlank() || !Files.isExecutable(Path.of(bin, "ray"))) {
            if (System.getenv(REQUIRE_RAY) != null) {
                fail("Ray is required (" + REQUIRE_RAY + ") but " + RAY_BIN + " names no folder with a 'ray' command: "
                        + bin);
            }
            Assumptions.abort("Ray is not installed here (" + RAY_BIN + " is unset): pip install ray, and set " + RAY_BIN
                    + " to the folder of its 'ray' command (.ci/run does)");
        }
        ray = Path.of(bin, "ray");
        // the workers run on the java first on the PATH when the nodes start: this test's
        environment = Map.of("PATH", Path.of(System.getProperty("java.home"), "bin") + ":" + bin + ":"
                + System.getenv("PATH"));
        run(List.of(ray.toString(), "stop", "--force"));
        earlierSessions = rayFiles("session_.*");
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        run(List.of(ray.toString(), "start", "--head", "--port=" + port, "--num-cpus=3", "--include-dashboard=false",
                "--disable-usage-stats"));
        String address = Files.readString(Path.of(System.getProperty("java.io.tmpdir"), "ray", "ray_current_cluster"))
                .strip();
        run(List.of(ray.toString(), "start", "--address=" + address, "--num-cpus=2", "--disable-usage-stats"));
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (ray != null) {
            run(List.of(ray.toString(), "stop", "--force"));
            for (Path session : rayFiles("session_.*")) {
                if (earlierSessions != null && !earlierSessions.contains(session)) {
                    Files.deleteIfExists(session.resolve(RAY_LIBRARY));
                }
            }
        }
    }

    /** The folders in {@link #RAY_FILES} whose names match {@code pattern}. */
    private static Set<Path> rayFiles(String pattern) throws IOException {
        if (!Files.isDirectory(RAY_FILES)) {
            return Set.of();
        }
        try (Stream<Path> files = Files.list(RAY_FILES)) {
            return files.filter(file -> file.getFileName().toString().matches(pattern) && !Files.isSymbolicLink(file))
                    .collect(Collectors.toSet());
        }
    }

    /** {@code nnsight serve --ray --replicas 2} on stories260K in a JVM of its own, with {@code options} added. */
    private static Process serve(String... options) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", ServeProcessTest.cliJar().toString(), "serve",
                "--model", SharedFiles.path("models/stories260K").toString(), "--ray", "--replicas", "2", "--port", "0",
                "--allow-anonymous"));
        command.addAll(List.of(options));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(environment); // the server finds Ray's runtime from the 'ray' command
        return builder.start();
    }

    @Test
    void serveOnRay_sixteenClients_oneReplicaKilledMidJob_noJobLost_andTheClusterServesOn() throws Exception {
        Path stories = SharedFiles.path("models/stories260K");
        Set<Path> driverCopies = rayFiles("\\d+");
        Process server = serve();
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            ServerOutput output = new ServerOutput(server, Duration.ofMinutes(3));
            String url = output.awaitServing();
            assertEquals(driverCopies, rayFiles("\\d+"),
                    "the server deleted the copy of Ray's library that Ray unpacked for it as a driver");
            LanguageModel lm = LanguageModel.load(stories.toString());
            Tensor expected = lm.trace(PROMPT, tr -> lm.get("lm_head").output());
            Tensor expectedTokens = lm.generate(PROMPT, Generation.maxNewTokens(5), tr -> lm.generator().output());
            Remote remote = Remote.on(url).quiet();

            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger right = new AtomicInteger();
            AtomicInteger afterKill = new AtomicInteger();
            AtomicBoolean killed = new AtomicBoolean();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            List<Future<?>> loops = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                boolean generates = i % 2 == 1;
                loops.add(clients.submit(() -> {
                    while (!stop.get()) {
                        try {
                            if (generates) {
                                Tensor tokens = lm.on(remote).generate(PROMPT, Generation.maxNewTokens(5),
                                        tr -> lm.generator().output());
                                if (!torch.equal(expectedTokens, tokens)) {
                                    failures.add("wrong tokens");
                                }
                            } else {
                                Tensor logits = lm.on(remote).trace(PROMPT, tr -> lm.get("lm_head").output());
                                if (!torch.allclose(expected, logits, 0, TOLERANCE, false)) {
                                    failures.add("wrong logits");
                                }
                            }
                            right.incrementAndGet();
                        } catch (RuntimeException e) {
                            failures.add(String.valueOf(e.getMessage()));
                        }
                        if (killed.get()) {
                            afterKill.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            awaitCount(right, 40, output);
            String engine = Runtime.version().feature() >= 21 ? "continuations" : "threads";
            for (var entry : replicas(url)) {
                assertEquals(engine, entry.getAsJsonObject().get("engine").getAsString(), "what runs bodies: " + entry);
            }
            JsonObject replica = busyReplica(url);
            long pid = replica.get("pid").getAsLong();
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            killed.set(true);
            awaitCount(afterKill, 100, output);
            stop.set(true);
            for (Future<?> loop : loops) {
                loop.get(2, TimeUnit.MINUTES); // every call came back: none was lost or left waiting
            }

            for (String failure : failures) {
                assertTrue(failure.contains("replica"), "a failure says what happened to the replica: " + failure);
            }
            assertTrue(failures.size() * 20 < right.get(), "the jobs of the killed replica ran again: " + failures);
            JsonObject restarted = awaitReady(url, replica.get("replica").getAsInt());
            assertNotEquals(pid, restarted.get("pid").getAsLong(), "Ray restarted the killed replica in a new process");
            Tensor again = lm.on(remote).trace(PROMPT, tr -> lm.get("lm_head").output());
            assertTrue(torch.equal(expected, again), "a job alone gets the local logits bit for bit");
            JsonObject batches = model(url).getAsJsonObject("batch");
            assertTrue(batches.getAsJsonObject("max").get("rows").getAsInt() > 1,
                    "a replica ran several jobs in one forward pass: " + batches);
            assertTrue(replicas(url).asList().stream().anyMatch(entry -> entry.getAsJsonObject()
                    .getAsJsonObject("continuous").get("max").getAsInt() > 1),
                    "generations joined a replica's running continuous batch: " + replicas(url));

            // a replica that dies while idle is found by the server's health check and restarted, no job needed
            int other = 1 - replica.get("replica").getAsInt();
            long idlePid = awaitReady(url, other).get("pid").getAsLong();
            ProcessHandle.of(idlePid).orElseThrow().destroyForcibly();
            awaitReplica(url, other, entry -> entry.get("state").getAsString().equals("ready")
                    && entry.get("pid").getAsLong() != idlePid);
        } finally {
            clients.shutdownNow();
            server.destroy();
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    /**
     * A job stuck in one native call (a matrix product that takes far longer than its time limit, where the sandbox
     * cannot stop it) on one replica: the replica is restarted and the job fails saying so, before the server's own
     * grace for stuck jobs runs out, so the model never becomes unavailable and the other replica serves on.
     */
    @Test
    void serveOnRay_jobStuckInANativeCall_failsAlone_itsReplicaIsRestarted_andTheModelServesOn() throws Exception {
        Process server = serve("--time-limit", "3s");
        ExecutorService clients = Executors.newFixedThreadPool(3);
        try {
            ServerOutput output = new ServerOutput(server, Duration.ofMinutes(3));
            String url = output.awaitServing();
            LanguageModel lm = LanguageModel.load(SharedFiles.path("models/stories260K").toString());
            Tensor expected = lm.trace(PROMPT, tr -> lm.get("lm_head").output());
            Remote remote = Remote.on(url).quiet();
            awaitReady(url, 0);
            awaitReady(url, 1);

            Future<String> stuck = clients.submit(() -> {
                try {
                    lm.on(remote).trace(PROMPT, tr -> {
                        Tensor ones = torch.ones(10240, 10240); // about 30 s of one core
                        return torch.mm(ones, ones).sum().add(lm.get("lm_head").output().sum());
                    });
                    return "no failure";
                } catch (RuntimeException e) {
                    return String.valueOf(e.getMessage());
                }
            });
            JsonObject busy = busyReplica(url);
            AtomicBoolean done = new AtomicBoolean();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            AtomicInteger right = new AtomicInteger();
            List<Future<?>> loops = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                loops.add(clients.submit(() -> {
                    while (!done.get()) {
                        try {
                            Tensor logits = lm.on(remote).trace(PROMPT, tr -> lm.get("lm_head").output());
                            if (torch.allclose(expected, logits, 0, TOLERANCE, false)) {
                                right.incrementAndGet();
                            } else {
                                failures.add("wrong logits");
                            }
                        } catch (RuntimeException e) {
                            failures.add(String.valueOf(e.getMessage()));
                        }
                    }
                    return null;
                }));
            }
            List<String> states = new ArrayList<>();
            while (!stuck.isDone()) {
                states.add(model(url).get("state").getAsString());
                TimeUnit.MILLISECONDS.sleep(200);
            }
            String failure = stuck.get();
            done.set(true);
            for (Future<?> loop : loops) {
                loop.get(2, TimeUnit.MINUTES);
            }

            assertTrue(failure.contains("did not stop within its time limit of 3 s") && failure.contains("restarted"),
                    "the stuck job fails saying its replica was restarted: " + failure);
            assertTrue(failures.isEmpty(), "the other replica served every other job: " + failures);
            assertTrue(right.get() > 10, "jobs ran beside the stuck one: " + right.get());
            assertFalse(states.contains("UNAVAILABLE"), "the model stayed available: " + states);
            JsonObject restarted = awaitReady(url, busy.get("replica").getAsInt());
            assertNotEquals(busy.get("pid").getAsLong(), restarted.get("pid").getAsLong(), "a new process");
            assertTrue(torch.allclose(expected, lm.on(remote).trace(PROMPT, tr -> lm.get("lm_head").output()), 0,
                    TOLERANCE, false));
        } finally {
            clients.shutdownNow();
            server.destroy();
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    private static void awaitCount(AtomicInteger count, int target, ServerOutput output) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (count.get() < target) {
            if (System.nanoTime() > end) {
                fail("only " + count.get() + " of " + target + " traces came back; the server printed:\n" + output);
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    /** A replica running a job now, as the server's {@code /status} shows it. */
    private static JsonObject busyReplica(String url) throws Exception {
        for (int attempt = 0; attempt < 500; attempt++) {
            for (var entry : replicas(url)) {
                if (entry.getAsJsonObject().get("running").getAsInt() > 0) {
                    return entry.getAsJsonObject();
                }
            }
        }
        throw new AssertionError("no replica ran a job while 16 clients traced: " + replicas(url));
    }

    /** Replica {@code index} once it is ready again, waiting for Ray to restart it. */
    private static JsonObject awaitReady(String url, int index) throws Exception {
        return awaitReplica(url, index, entry -> entry.get("state").getAsString().equals("ready"));
    }

    /** Replica {@code index} of {@code /status} once it passes {@code test}. */
    private static JsonObject awaitReplica(String url, int index, Predicate<JsonObject> test) throws Exception {
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        JsonObject replica;
        do {
            replica = replicas(url).get(index).getAsJsonObject();
            if (test.test(replica)) {
                return replica;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        } while (System.nanoTime() < end);
        throw new AssertionError("the replica did not reach the awaited state: " + replica);
    }

    /** The {@code replicas} of stories260K in the server's {@code /status}. */
    private static JsonArray replicas(String url) throws IOException, InterruptedException {
        return model(url).getAsJsonArray("replicas");
    }

    /** Stories260K in the server's {@code /status}. */
    private static JsonObject model(String url) throws IOException, InterruptedException {
        HttpResponse<String> status = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "/status"))
                .build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        return JsonParser.parseString(status.body()).getAsJsonObject().getAsJsonArray("models").get(0).getAsJsonObject();
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(environment);
        Process process = builder.start();
        String printed = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(2, TimeUnit.MINUTES) || process.exitValue() != 0) {
            fail(String.join(" ", command) + " failed:\n" + printed);
        }
    }
}
