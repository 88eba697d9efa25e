package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.nn.Linear;
import io.nnsight.remote.Ndif;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.Type;

/** {@link Ndif}'s questions to a real server: compare, status, and shipping a registered library. */
class NdifTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    private static LanguageModel lm;
    private static ModelServer server;
    private static Remote remote;

    @BeforeAll
    static void start() {
        lm = LanguageModel.load(TestServers.shared("models/stories260K").toString());
        server = ModelServer.builder().model(lm.key(), lm).model("tiny", TestServers.tiny())
                .port(0).apiKeys(Set.of(ALICE)).start();
        remote = Remote.on(server.url()).apiKey(ALICE).quiet();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void compare_sameBuild_showsNoDifferenceThatMatters() {
        Ndif.Comparison comparison = Ndif.compare(remote, lm);

        assertTrue(comparison.compatible(), comparison.toString());
        assertEquals(server.url(), comparison.server());
        assertEquals(List.of("Java", "nnsight", "Bytedeco", "libtorch", "model stories260K", "model tiny"),
                comparison.rows().stream().map(Ndif.Row::name).toList());
        Ndif.Row nnsight = comparison.row("nnsight").orElseThrow();
        assertEquals(Protocol.VERSION, nnsight.local());
        assertEquals(Protocol.VERSION, nnsight.server());
        assertEquals(new Ndif.Row("model stories260K", "llama", "llama", false, ""),
                comparison.row("model stories260K").orElseThrow());
        assertEquals(new Ndif.Row("model tiny", "-", "Linear", false, ""), comparison.row("model tiny").orElseThrow());
        String table = comparison.toString();
        assertTrue(table.startsWith("nnsight here and at " + server.url() + "\n"), table);
        assertTrue(table.contains("\n  libtorch           2.10.0          2.10.0\n"), table);
        assertTrue(table.endsWith("\nno difference that matters"), table);
    }

    @Test
    void compare_aModelTheServerDoesNotHost_isFlagged() {
        NNsight mine = NNsight.wrap(new Linear(2, 2)); // its key is "Linear"

        Ndif.Comparison comparison = Ndif.compare(remote, mine);

        assertFalse(comparison.compatible());
        Ndif.Row row = comparison.row("model Linear").orElseThrow();
        assertEquals(List.of(row), comparison.problems());
        assertEquals("not hosted", row.server());
        assertTrue(row.note().contains("the server hosts stories260K, tiny"), row.note());
        assertTrue(comparison.toString().contains("\n! model Linear"), comparison.toString());
        assertTrue(comparison.toString().endsWith("\n1 difference that matters (marked !)"), comparison.toString());
    }

    /** A server of an older release than this build cannot be started here: this one answers {@code /env} as one. */
    @Test
    void compare_olderServer_flagsTheNnsightVersion_andANewerJavaHere() throws IOException {
        int olderJava = Runtime.version().feature() - 1;
        HttpServer older = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        older.createContext(Protocol.ENV, exchange -> {
            byte[] env = ("{\"nnsight\": \"0.0.9\", \"java\": \"" + olderJava + "\", \"javaFeature\": " + olderJava
                    + ", \"bytedeco\": \"1.5.9\", \"libtorch\": \"2.0.1\", \"models\": {\"gpt2\": {\"architecture\": "
                    + "\"gpt2\"}}}").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, env.length);
            try (OutputStream body = exchange.getResponseBody()) {
                body.write(env);
            }
        });
        older.start();
        try {
            Ndif.Comparison comparison = Ndif.compare(Remote.on("http://127.0.0.1:" + older.getAddress().getPort()));

            assertEquals(List.of("Java", "nnsight"), comparison.problems().stream().map(Ndif.Row::name).toList());
            assertTrue(comparison.row("Java").orElseThrow().note().contains("rewritten down to Java " + olderJava
                    + ", or refused"), comparison.toString());
            assertTrue(comparison.row("nnsight").orElseThrow().note().startsWith("incompatible"), comparison.toString());
            assertEquals("differs: results may differ in the last digits", comparison.row("libtorch").orElseThrow().note());
            assertEquals(new Ndif.Row("model gpt2", "-", "gpt2", false, ""), comparison.row("model gpt2").orElseThrow());
            assertTrue(comparison.toString().lines().anyMatch(line -> line.matches("! nnsight +\\Q" + Protocol.VERSION
                    + "\\E +0\\.0\\.9 +incompatible.*")), comparison.toString());
            assertTrue(comparison.toString().endsWith("2 differences that matter (marked !)"), comparison.toString());
        } finally {
            older.stop(0);
        }
    }

    @Test
    void status_aRunningAndAQueuedJob_areCounted() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer scripted = TestServers.builder(executor).start();
                HttpTransport http = new HttpTransport(scripted.url(), ALICE)) {
            String running = http.submit("tiny", payload("wait first")).id();
            TestServers.awaitStatus(http, running, JobStatus.RUNNING);
            String queued = http.submit("tiny", payload("wait second")).id();
            TestServers.awaitStatus(http, queued, JobStatus.QUEUED);

            Ndif.Status status = Ndif.status(Remote.on(scripted.url()));

            assertEquals(List.of(new Ndif.ModelStatus("tiny", "RUNNING", 1, true, "")), status.models());
            assertTrue(status.model("tiny").orElseThrow().available());
            assertTrue(status.model("gpt2").isEmpty());
            assertEquals("models at " + scripted.url() + "\n"
                    + "  model  state    queued  job running\n"
                    + "  tiny   RUNNING  1       yes", status.toString());
            executor.gate.countDown();
        }
    }

    @Test
    void compareAndStatus_withoutAServer_askTheServerOfNnsightHost() {
        String before = System.getProperty("nnsight.host");
        System.setProperty("nnsight.host", server.url());
        try {
            assertEquals(server.url(), Ndif.compare().server());
            Ndif.Status status = Ndif.status();
            assertEquals(List.of("stories260K", "tiny"), status.models().stream().map(Ndif.ModelStatus::key).toList());
            assertEquals(new Ndif.ModelStatus("stories260K", "RUNNING", 0, false, ""), status.models().get(0));
        } finally {
            if (before == null) {
                System.clearProperty("nnsight.host");
            } else {
                System.setProperty("nnsight.host", before);
            }
        }
    }

    @Test
    void compare_local_isRefused_andAnUnreachableServer_saysSo() {
        IllegalArgumentException local = assertThrows(IllegalArgumentException.class, () -> Ndif.compare(Remote.local()));
        assertTrue(local.getMessage().startsWith("Remote.local() has no server to compare with"), local.getMessage());

        RemoteException unreachable = assertThrows(RemoteException.class, () -> Ndif.status(Remote.on("http://127.0.0.1:1")));
        assertTrue(unreachable.getMessage().contains("http://127.0.0.1:1"), unreachable.getMessage());
    }

    /**
     * ASM stands in for a library the server lacks: the server has it on its class path, but the sandbox does
     * not let shipped code see it. Its classes travel only once registered.
     */
    @Test
    void register_aLibraryTheServerLacks_shipsItsClasses() {
        RemoteException missing = assertThrows(RemoteException.class, () -> lm.on(remote).trace(PROMPT,
                tr -> Type.getArgumentCount("(JJ)V") * lm.get("lm_head").output().select(1, -1).argmax().item_long()));
        assertTrue(missing.getMessage().contains("org.objectweb.asm.Type"), missing.getMessage());

        Ndif.register("org.objectweb.asm");
        long top = lm.on(remote).trace(PROMPT,
                tr -> Type.getArgumentCount("(JJ)V") * lm.get("lm_head").output().select(1, -1).argmax().item_long());

        assertEquals(2 * 338, top);
    }

    @Test
    void register_notAPackage_orNnsightsOwn_isRefused() {
        for (String bad : List.of("", "com..example", "1lib", "com.example lib")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ndif.register(bad), bad);
            assertTrue(e.getMessage().startsWith("not a package name: '" + bad + "'"), e.getMessage());
        }
        for (String own : List.of("io", "io.nnsight", "io.nnsight.remote.", "io.nnsight.lm")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ndif.register(own), own);
            assertTrue(e.getMessage().contains("holds nnsight's own classes"), e.getMessage());
        }
    }
}
