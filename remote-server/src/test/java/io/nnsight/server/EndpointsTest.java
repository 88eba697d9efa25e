package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static io.nnsight.server.TestServers.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.BodyEngine;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Each endpoint of {@code docs/remote.md} on a real server, through the real client. */
class EndpointsTest {
    private static final ScriptExecutor EXECUTOR = new ScriptExecutor();
    private static ModelServer server;
    private static HttpTransport http;
    private static RawHttp raw;

    @BeforeAll
    static void start() {
        server = TestServers.builder(EXECUTOR).model("tiny2", TestServers.tiny()).maxResultBytes(1 << 20).start();
        http = new HttpTransport(server.url(), ALICE);
        raw = new RawHttp(server.url());
    }

    @AfterAll
    static void stop() throws Exception {
        raw.close();
        http.close();
        server.close();
    }

    @Test
    void url_loopbackAndPort() {
        assertTrue(server.port() > 0);
        assertEquals("http://127.0.0.1:" + server.port(), server.url());
    }

    @Test
    void ping_pong() {
        http.ping();
        RawHttp.Answer answer = raw.get(Protocol.PING); // no key needed
        assertEquals(200, answer.code());
        assertEquals("pong", answer.body());
    }

    @Test
    void env_versionsAndModels() {
        JsonObject env = new HttpTransport(server.url(), null).env(); // no key needed
        assertEquals(Protocol.VERSION, env.get("nnsight").getAsString());
        assertEquals(Runtime.version().toString(), env.get("java").getAsString());
        assertEquals(Runtime.version().feature(), env.get("javaFeature").getAsInt());
        assertEquals(Runtime.version().feature() + 44, env.get("classFileVersion").getAsInt());
        assertEquals("2.10.0", env.get("libtorch").getAsString());
        assertEquals("1.5.13", env.get("bytedeco").getAsString());
        assertEquals(BodyEngine.configured().property(), env.get("engine").getAsString());
        JsonObject models = env.getAsJsonObject("models");
        assertEquals(List.of("tiny", "tiny2"), new ArrayList<>(models.keySet()));
        assertEquals("Linear", models.getAsJsonObject("tiny").get("architecture").getAsString());
    }

    @Test
    void status_queuesOfModels() {
        JsonObject status = new HttpTransport(server.url(), null).status();
        assertEquals(2, status.getAsJsonArray("models").size());
        JsonObject tiny = status.getAsJsonArray("models").get(0).getAsJsonObject();
        assertEquals("tiny", tiny.get("key").getAsString());
        assertEquals("RUNNING", tiny.get("state").getAsString());
        assertTrue(tiny.has("queued") && tiny.has("running"), tiny.toString());
        JsonObject batch = tiny.getAsJsonObject("batch");
        for (String sizes : List.of("last", "mean", "max")) {
            for (String size : List.of("jobs", "forwards", "rows", "tokens")) {
                assertTrue(batch.getAsJsonObject(sizes).has(size), tiny.toString());
            }
        }
        assertTrue(batch.has("solo") && batch.has("evicted") && batch.has("reruns"), tiny.toString());
        JsonObject batching = tiny.getAsJsonObject("batching");
        assertEquals(16, batching.get("jobs").getAsInt(), tiny.toString());
        assertEquals(16, batching.get("rows").getAsInt(), tiny.toString());
        assertEquals(4096, batching.get("tokens").getAsInt(), tiny.toString());
        assertEquals(1 << 20, batching.get("maxRequest").getAsInt(), tiny.toString());
        assertEquals(4, batching.get("fairness").getAsInt(), tiny.toString());
    }

    @Test
    void submit_streamAndDownload() {
        StatusMessage received = http.submit("tiny", payload("echo hello"));
        assertEquals(JobStatus.RECEIVED, received.status());
        assertEquals(received.id(), UUID.fromString(received.id()).toString());
        List<StatusMessage> seen = new ArrayList<>();
        StatusMessage completed = http.stream(received.id(), seen::add);
        assertEquals(JobStatus.COMPLETED, completed.status());
        assertEquals(5L, completed.size());
        assertEquals(completed, seen.get(seen.size() - 1));
        List<JobStatus> statuses = seen.stream().map(StatusMessage::status).collect(Collectors.toList());
        assertTrue(statuses.indexOf(JobStatus.RUNNING) < statuses.indexOf(JobStatus.COMPLETED), statuses.toString());
        seen.forEach(message -> assertEquals(received.id(), message.id()));
        assertEquals("hello", text(http.download(received.id(), 1 << 20)));
    }

    @Test
    void stream_logLinesInOrder() {
        // The job may have ended before the stream starts: its lines are kept for it.
        StatusMessage received = http.submit("tiny2", payload("log 3"));
        List<String> logs = new ArrayList<>();
        http.stream(received.id(), message -> {
            if (message.status() == JobStatus.LOG) {
                logs.add(message.description());
            }
        });
        assertEquals(List.of("line 0", "line 1", "line 2"), logs);
        assertEquals("logged", text(http.download(received.id(), 1 << 20)));
    }

    @Test
    void stream_afterTheEnd_latestStatusOnly() {
        StatusMessage received = http.submit("tiny", payload("echo done"));
        StatusMessage completed = http.stream(received.id(), message -> {});
        List<StatusMessage> late = new ArrayList<>();
        assertEquals(completed, http.stream(received.id(), late::add));
        assertEquals(List.of(completed), late);
    }

    @Test
    void response_latestStatus() throws InterruptedException {
        StatusMessage received = http.submit("tiny", payload("echo polled"));
        StatusMessage completed = TestServers.awaitStatus(http, received.id(), JobStatus.COMPLETED);
        assertEquals(6L, completed.size());
        assertNull(completed.description());
        assertEquals("polled", text(http.download(received.id(), 1 << 20)));
    }

    @Test
    void stream_jobFails_descriptionInException() {
        StatusMessage received = http.submit("tiny", payload("fail the body threw: boom"));
        List<StatusMessage> seen = new ArrayList<>();
        RemoteException e = assertThrows(RemoteException.class, () -> http.stream(received.id(), seen::add));
        assertEquals("remote job " + received.id() + " failed: the body threw: boom", e.getMessage());
        assertEquals(JobStatus.ERROR, seen.get(seen.size() - 1).status()); // the listener saw it first
        assertEquals(JobStatus.ERROR, http.poll(received.id()).status());
    }

    @Test
    void stream_executorCrashes_serverFailure() {
        StatusMessage received = http.submit("tiny", payload("crash broken executor"));
        RemoteException e = assertThrows(RemoteException.class, () -> http.stream(received.id(), message -> {}));
        assertTrue(e.getMessage().endsWith("failed: the server failed while running the job: "
                + "java.lang.IllegalStateException: broken executor"), e.getMessage());
        // The worker survives it.
        assertEquals(JobStatus.COMPLETED, http.stream(http.submit("tiny", payload("echo after")).id(), m -> {}).status());
    }

    @Test
    void stream_resultTooLarge() {
        StatusMessage received = http.submit("tiny", payload("bytes 2000000"));
        RemoteException e = assertThrows(RemoteException.class, () -> http.stream(received.id(), message -> {}));
        assertTrue(e.getMessage().endsWith("failed: result too large: 2000000 bytes, limit 1048576"), e.getMessage());
    }

    @Test
    void download_twice_secondIsGone() {
        StatusMessage received = http.submit("tiny", payload("echo once"));
        http.stream(received.id(), message -> {});
        assertEquals("once", text(http.download(received.id(), 1 << 20)));
        RemoteException e = assertThrows(RemoteException.class, () -> http.download(received.id(), 1 << 20));
        assertTrue(e.getMessage().contains("404") && e.getMessage().contains("downloaded already"), e.getMessage());
        RawHttp.Answer answer = raw.get(Protocol.RESULT + received.id(), Protocol.API_KEY_HEADER, ALICE);
        assertEquals(404, answer.code());
        // The status stays until it expires.
        assertEquals(JobStatus.COMPLETED, http.poll(received.id()).status());
    }

    @Test
    void download_beforeCompletion_refused() throws InterruptedException {
        StatusMessage received = http.submit("tiny", payload("sleep 300 slow"));
        RawHttp.Answer answer = raw.get(Protocol.RESULT + received.id(), Protocol.API_KEY_HEADER, ALICE);
        assertEquals(409, answer.code());
        assertTrue(answer.error().startsWith("job " + received.id() + " has no result: it is "), answer.body());
        http.stream(received.id(), message -> {});
        assertEquals("slow", text(http.download(received.id(), 1 << 20)));
    }

    @Test
    void download_pastClientLimit() {
        StatusMessage received = http.submit("tiny", payload("bytes 5000"));
        http.stream(received.id(), message -> {});
        RemoteException e = assertThrows(RemoteException.class, () -> http.download(received.id(), 4000));
        assertEquals("the result of job " + received.id() + " is larger than this client's limit of 4000 bytes", e.getMessage());
    }

    @Test
    void unknownEndpoint_404Json() {
        RawHttp.Answer answer = raw.get("/nothing", Protocol.API_KEY_HEADER, ALICE);
        assertEquals(404, answer.code());
        assertTrue(answer.contentType().startsWith("application/json"), answer.contentType());
        assertTrue(answer.error().startsWith("no endpoint /nothing; the endpoints are /ping"), answer.body());
    }

    @Test
    void wrongMethod_405Json() {
        RawHttp.Answer answer = raw.get(Protocol.REQUEST, Protocol.API_KEY_HEADER, ALICE);
        assertEquals(405, answer.code());
        assertEquals("use POST for /request, not GET", answer.error());
    }

    @Test
    void badHttp_jsonWithoutStackTrace() {
        RawHttp.Answer answer = raw.get(Protocol.PING, "x-large", "x".repeat(20_000)); // Jetty refuses the headers
        assertEquals(431, answer.code());
        assertTrue(answer.error().startsWith("HTTP 431"), answer.body());
        assertFalse(answer.body().contains("at org.eclipse"), answer.body());
    }
}
