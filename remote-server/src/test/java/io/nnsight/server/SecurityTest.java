package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.BOB;
import static io.nnsight.server.TestServers.payload;
import static io.nnsight.server.TestServers.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** API keys, and jobs visible to the key that submitted them only. */
class SecurityTest {
    private static final ScriptExecutor EXECUTOR = new ScriptExecutor();
    private static ModelServer server;
    private static HttpTransport alice;
    private static HttpTransport bob;
    private static RawHttp raw;

    @BeforeAll
    static void start() {
        server = TestServers.builder(EXECUTOR).start();
        alice = new HttpTransport(server.url(), ALICE);
        bob = new HttpTransport(server.url(), BOB);
        raw = new RawHttp(server.url());
    }

    @AfterAll
    static void stop() throws Exception {
        raw.close();
        alice.close();
        bob.close();
        server.close();
    }

    private static String completedJob() {
        StatusMessage received = alice.submit("tiny", payload("echo secret"));
        alice.stream(received.id(), message -> {});
        return received.id();
    }

    @Test
    void request_missingApiKey_401() {
        RawHttp.Answer answer = raw.post(Protocol.REQUEST, new ByteArrayEntity(payload("echo x"),
                ContentType.APPLICATION_OCTET_STREAM), RawHttp.submission(null, "tiny"));
        assertEquals(401, answer.code());
        assertEquals("missing API key: send it in header nnsight-api-key", answer.error());
    }

    @Test
    void request_wrongApiKey_401WithAdvice() {
        try (HttpTransport stranger = new HttpTransport(server.url(), "guessed")) {
            RemoteException e = assertThrows(RemoteException.class, () -> stranger.submit("tiny", payload("echo x")));
            assertEquals("the server at " + server.url() + " refused the API key (unknown API key): set NNSIGHT_API_KEY "
                    + "or -Dnnsight.apiKey to a key the server accepts", e.getMessage());
        }
    }

    @Test
    void jobEndpoints_withoutApiKey_401() {
        String id = completedJob();
        for (String path : List.of(Protocol.STREAM, Protocol.RESPONSE, Protocol.RESULT)) {
            assertEquals(401, raw.get(path + id).code(), path);
            assertEquals(401, raw.get(path + id, Protocol.API_KEY_HEADER, "guessed").code(), path);
        }
        assertEquals("secret", text(alice.download(id, 100)));
    }

    @Test
    void openEndpoints_withoutApiKey_200() {
        for (String path : List.of(Protocol.PING, Protocol.ENV, Protocol.STATUS)) {
            assertEquals(200, raw.get(path).code(), path);
        }
    }

    @Test
    void jobEndpoints_otherKeysJob_404LikeUnknown() {
        String id = completedJob();
        String unknown = UUID.randomUUID().toString();
        for (String path : List.of(Protocol.STREAM, Protocol.RESPONSE, Protocol.RESULT)) {
            RawHttp.Answer others = raw.get(path + id, Protocol.API_KEY_HEADER, BOB);
            RawHttp.Answer forged = raw.get(path + unknown, Protocol.API_KEY_HEADER, BOB);
            assertEquals(404, others.code(), path);
            assertEquals(404, forged.code(), path);
            // Nothing tells an existing job of another key from one that never was.
            assertEquals(forged.error().replace(unknown, id), others.error());
        }
        RemoteException e = assertThrows(RemoteException.class, () -> bob.download(id, 100));
        assertTrue(e.getMessage().contains("no job " + id + " for this API key"), e.getMessage());
        assertEquals("secret", text(alice.download(id, 100))); // still there for its owner
    }

    @Test
    void jobEndpoints_forgedIds_404() {
        for (String id : List.of("x", "00000000-0000-0000-0000-000000000000", UUID.randomUUID().toString().toUpperCase(),
                "a%20b", "x;y")) {
            RawHttp.Answer answer = raw.get(Protocol.RESPONSE + id, Protocol.API_KEY_HEADER, ALICE);
            assertEquals(404, answer.code(), id);
            assertTrue(answer.error().startsWith("no job "), answer.body());
        }
        // Jetty itself refuses ambiguous paths, with the API's JSON error.
        RawHttp.Answer ambiguous = raw.get(Protocol.RESPONSE + "..%2Fping", Protocol.API_KEY_HEADER, ALICE);
        assertEquals(400, ambiguous.code());
        assertTrue(ambiguous.error().startsWith("HTTP 400"), ambiguous.body());
        RemoteException e = assertThrows(RemoteException.class, () -> alice.poll(UUID.randomUUID().toString()));
        assertTrue(e.getMessage().contains("404"), e.getMessage());
    }

    @Test
    void start_withoutKeys_refused() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ModelServer.builder().model("tiny", TestServers.tiny()).executor(EXECUTOR).port(0).start());
        assertTrue(e.getMessage().startsWith("no API keys: give some with apiKeys(...) or apiKeysFrom(file), or call "
                + "allowAnonymous()"), e.getMessage());
    }

    @Test
    void allowAnonymous_servesWithoutKey() {
        try (ModelServer open = ModelServer.builder().model("tiny", TestServers.tiny()).executor(EXECUTOR).port(0)
                        .allowAnonymous().start();
                HttpTransport anyone = new HttpTransport(open.url(), null)) {
            StatusMessage received = anyone.submit("tiny", payload("echo open"));
            assertEquals(JobStatus.COMPLETED, anyone.stream(received.id(), message -> {}).status());
            assertEquals("open", text(anyone.download(received.id(), 100)));
        }
    }

    @Test
    void apiKeysFrom_fileWithComments(@TempDir Path dir) throws Exception {
        Path keys = Files.writeString(dir.resolve("keys.txt"), "# the lab\n  carol-key  \n\n# dave left\n");
        try (ModelServer server = ModelServer.builder().model("tiny", TestServers.tiny()).executor(EXECUTOR).port(0)
                        .apiKeysFrom(keys).start();
                HttpTransport carol = new HttpTransport(server.url(), "carol-key");
                HttpTransport dave = new HttpTransport(server.url(), "# dave left")) {
            assertEquals(JobStatus.RECEIVED, carol.submit("tiny", payload("echo hi")).status());
            assertThrows(RemoteException.class, () -> dave.submit("tiny", payload("echo hi")));
        }
    }

    @Test
    void apiKeysFrom_noKeys(@TempDir Path dir) throws Exception {
        Path keys = Files.writeString(dir.resolve("keys.txt"), "# nobody yet\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelServer.builder().apiKeysFrom(keys));
        assertEquals("no API keys in " + keys + " (one per line, # for comments)", e.getMessage());
        assertThrows(UncheckedIOException.class, () -> ModelServer.builder().apiKeysFrom(dir.resolve("missing.txt")));
    }
}
