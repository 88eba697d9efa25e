package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static io.nnsight.server.TestServers.text;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A blocking job in one HTTP exchange: {@code POST /request} with {@code Accept: text/event-stream} answered with
 * the job's events, and a small result inline in {@code COMPLETED}; counted by a proxy between client and server.
 */
class OneExchangeTest {
    private static final long MAX_REQUEST = 64 << 10;
    private static final ScriptExecutor EXECUTOR = new ScriptExecutor();
    private static ModelServer server;
    private static CountingProxy proxy;
    /** Through the proxy. */
    private static HttpTransport http;
    /** Straight to the server. */
    private static HttpTransport direct;
    private static RawHttp raw;

    @BeforeAll
    static void start() {
        server = TestServers.builder(EXECUTOR).maxRequestBytes(MAX_REQUEST).start();
        proxy = new CountingProxy(server.port());
        http = new HttpTransport(proxy.url(), ALICE);
        direct = new HttpTransport(server.url(), ALICE);
        raw = new RawHttp(server.url());
    }

    @AfterAll
    static void stop() throws Exception {
        raw.close();
        direct.close();
        http.close();
        proxy.close();
        server.close();
    }

    private static String[] streamingSubmission(String version, String inline) {
        return new String[] {Protocol.API_KEY_HEADER, ALICE, Protocol.MODEL_KEY_HEADER, "tiny", Protocol.VERSION_HEADER,
            version, Protocol.JAVA_VERSION_HEADER, Integer.toString(Runtime.version().feature()), "Accept",
            Protocol.EVENT_STREAM, Protocol.INLINE_RESULT_HEADER, inline};
    }

    private static RawHttp.Answer rawSubmit(byte[] body, String... headers) {
        return raw.post(Protocol.REQUEST, new ByteArrayEntity(body, ContentType.APPLICATION_OCTET_STREAM), headers);
    }

    private static void assertJsonRefusal(RawHttp.Answer answer, int code, String errorStart) {
        assertEquals(code, answer.code(), answer.body());
        assertTrue(answer.contentType().startsWith("application/json"), answer.contentType());
        assertTrue(answer.error().startsWith(errorStart), answer.body());
    }

    @Test
    void run_smallResult_oneExchangeWithTheResultInline() {
        proxy.takeRequests();
        List<StatusMessage> seen = new ArrayList<>();
        byte[] result = http.run("tiny", payload("echo hello"), seen::add, 1 << 20);

        assertEquals("hello", text(result));
        assertEquals(List.of("POST /request HTTP/1.1"), proxy.takeRequestLines());
        List<JobStatus> statuses = seen.stream().map(StatusMessage::status).collect(Collectors.toList());
        assertEquals(JobStatus.RECEIVED, statuses.get(0), statuses.toString());
        assertEquals(JobStatus.COMPLETED, statuses.get(statuses.size() - 1), statuses.toString());
        assertTrue(statuses.indexOf(JobStatus.RUNNING) > 0, statuses.toString());
        String id = seen.get(0).id();
        seen.forEach(message -> assertEquals(id, message.id()));
        StatusMessage completed = seen.get(seen.size() - 1);
        assertEquals(5L, completed.size());
        assertNotNull(completed.result());
        // The status of every other step has no result field.
        seen.subList(0, seen.size() - 1).forEach(message -> assertNull(message.result(), message.toString()));
        // Taken as a download takes it.
        RawHttp.Answer again = raw.get(Protocol.RESULT + id, Protocol.API_KEY_HEADER, ALICE);
        assertEquals(404, again.code());
        assertTrue(again.error().endsWith("was downloaded already"), again.body());
        assertEquals(JobStatus.COMPLETED, direct.poll(id).status());
    }

    @Test
    void run_resultOverTheInlineLimit_downloaded() {
        proxy.takeRequests();
        int size = Protocol.MAX_INLINE_RESULT_BYTES + 4096; // random bytes: compressed, still over the limit
        List<StatusMessage> seen = new ArrayList<>();
        byte[] result = http.run("tiny", payload("random " + size), seen::add, 8 << 20);

        assertArrayEquals(ScriptExecutor.random(size), result);
        StatusMessage completed = seen.get(seen.size() - 1);
        assertEquals(JobStatus.COMPLETED, completed.status());
        assertNull(completed.result());
        assertEquals(List.of("POST /request HTTP/1.1", "GET " + Protocol.RESULT + completed.id() + " HTTP/1.1"),
                proxy.takeRequestLines());
    }

    @Test
    void run_inlineResultOverTheClientLimit_sameErrorAsADownload() {
        List<StatusMessage> seen = new ArrayList<>();
        RemoteException e = assertThrows(RemoteException.class, () -> http.run("tiny", payload("bytes 5000"), seen::add, 4000));
        String id = seen.get(0).id();
        assertNotNull(seen.get(seen.size() - 1).result(), "5000 zero bytes compress to fewer than 4000: sent inline");
        assertEquals("the result of job " + id + " is larger than this client's limit of 4000 bytes", e.getMessage());
    }

    @Test
    void run_bodyUpTo1MiB_sentWithoutWaitingForTheGoAhead() {
        proxy.takeRequests();
        assertEquals("quick", text(http.run("tiny", payload("echo quick"), m -> {}, 100)));
        List<CountingProxy.Exchange> small = proxy.takeRequests();
        assertFalse(small.get(0).has("Expect: 100-continue"), small.get(0).headers().toString());
        // A larger body waits for it, so that a refusal comes before the body is sent.
        byte[] large = Compression.compress(ScriptExecutor.random((1 << 20) + 1));
        RemoteException e = assertThrows(RemoteException.class, () -> http.run("tiny", large, m -> {}, 100));
        assertTrue(e.getMessage().contains("refused the request as too large"), e.getMessage());
        List<CountingProxy.Exchange> sent = proxy.takeRequests();
        assertTrue(sent.get(0).has("Expect: 100-continue"), sent.get(0).headers().toString());
    }

    @Test
    void run_logLines_inOrderBeforeTheResult() {
        List<String> logs = new ArrayList<>();
        byte[] result = http.run("tiny", payload("log 3"), message -> {
            if (message.status() == JobStatus.LOG) {
                logs.add(message.description());
            }
        }, 1 << 20);
        assertEquals(List.of("line 0", "line 1", "line 2"), logs);
        assertEquals("logged", text(result));
    }

    @Test
    void run_jobFails_errorAfterTheListenerSawIt() {
        proxy.takeRequests();
        List<StatusMessage> seen = new ArrayList<>();
        RemoteException e = assertThrows(RemoteException.class, () -> http.run("tiny", payload("fail boom"), seen::add, 1 << 20));
        assertEquals("remote job " + seen.get(0).id() + " failed: boom", e.getMessage());
        assertEquals(JobStatus.ERROR, seen.get(seen.size() - 1).status());
        assertEquals(1, proxy.takeRequestLines().size());
    }

    @Test
    void run_afterRefusalsOfBodiesSentWithoutTheGoAhead_theConnectionServesTheNextJob() {
        byte[] body = Compression.compress(ScriptExecutor.random(48 << 10)); // under 1 MiB: sent without Expect
        for (int i = 0; i < 20; i++) {
            assertThrows(RemoteException.class, () -> http.run("nope", body, m -> {}, 100));
            assertEquals("again", text(http.run("tiny", payload("echo again"), m -> {}, 1 << 20)),
                    "the refused body was read off, so the pooled connection still works");
        }
    }

    @Test
    void run_unknownModel_404Json() {
        RemoteException e = assertThrows(RemoteException.class, () -> http.run("nope", payload("echo x"), m -> {}, 100));
        assertEquals("the server at " + proxy.url() + " hosts no model 'nope'; it hosts: tiny", e.getMessage());
        String[] headers = streamingSubmission(Protocol.VERSION, "1000");
        headers[3] = "nope";
        RawHttp.Answer answer = rawSubmit(payload("echo x"), headers);
        assertJsonRefusal(answer, 404, "no model 'nope' on this server");
        assertEquals("[\"tiny\"]", answer.json().get("models").toString());
    }

    @Test
    void run_otherVersion_409Json() {
        RawHttp.Answer answer = rawSubmit(payload("echo x"), streamingSubmission("0.0.1", "1000"));
        assertJsonRefusal(answer, 409, "the client's nnsight 0.0.1 cannot work with the server's");
        assertEquals(Protocol.VERSION, answer.json().get("serverVersion").getAsString());
    }

    @Test
    void run_tooLarge_413Json() {
        byte[] tooLarge = Compression.compress(ScriptExecutor.random((int) MAX_REQUEST + 1));
        RemoteException e = assertThrows(RemoteException.class, () -> http.run("tiny", tooLarge, m -> {}, 100));
        assertTrue(e.getMessage().startsWith("the server at " + proxy.url() + " refused the request as too large: "
                + "request too large"), e.getMessage());
        assertJsonRefusal(rawSubmit(tooLarge, streamingSubmission(Protocol.VERSION, "1000")), 413, "request too large");
    }

    @Test
    void run_malformedInlineHeader_400Json() {
        RawHttp.Answer answer = rawSubmit(payload("echo x"), streamingSubmission(Protocol.VERSION, "lots"));
        assertJsonRefusal(answer, 400, "malformed header " + Protocol.INLINE_RESULT_HEADER + ": 'lots'");
    }

    @Test
    void run_keyQuotaReached_503JsonBeforeAnyEvent() {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer quota = TestServers.builder(executor).maxQueuedJobsPerKey(1).start();
                HttpTransport client = new HttpTransport(quota.url(), ALICE);
                RawHttp quotaRaw = new RawHttp(quota.url())) {
            StatusMessage held = client.submit("tiny", payload("wait held"));
            RemoteException e = assertThrows(RemoteException.class, () -> client.run("tiny", payload("echo x"), m -> {}, 100));
            assertTrue(e.getMessage().contains("answered HTTP 503") && e.getMessage().contains("this API key already has 1 "
                    + "jobs waiting for or running on model 'tiny'"), e.getMessage());
            RawHttp.Answer answer = quotaRaw.post(Protocol.REQUEST, new ByteArrayEntity(payload("echo x"),
                    ContentType.APPLICATION_OCTET_STREAM), streamingSubmission(Protocol.VERSION, "1000"));
            assertJsonRefusal(answer, 503, "this API key already has 1 jobs");
            executor.gate.countDown();
            assertEquals("held", text(client.await(held.id(), m -> {}, 100)));
            // The refused submissions left nothing behind: the key may run a job again.
            assertEquals("free", text(client.run("tiny", payload("echo free"), m -> {}, 100)));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void submit_withoutAccept_receivedAsJson() {
        RawHttp.Answer answer = rawSubmit(payload("echo plain"), RawHttp.submission(ALICE, "tiny"));
        assertEquals(200, answer.code());
        assertTrue(answer.contentType().startsWith("application/json"), answer.contentType());
        StatusMessage received = StatusMessage.fromJson(answer.body());
        assertEquals(JobStatus.RECEIVED, received.status());
        direct.stream(received.id(), m -> {});
        assertEquals("plain", text(direct.download(received.id(), 100)));
    }

    @Test
    void submitThenAwait_resultInlineOnTheStream() {
        proxy.takeRequests();
        StatusMessage received = http.submit("tiny", payload("echo later"));
        assertEquals("later", text(http.await(received.id(), m -> {}, 100)));
        assertEquals(List.of("POST /request HTTP/1.1", "GET " + Protocol.STREAM + received.id() + " HTTP/1.1"),
                proxy.takeRequestLines());
        // A second stream sees COMPLETED without the result, which was taken.
        List<StatusMessage> late = new ArrayList<>();
        direct.stream(received.id(), late::add);
        assertNull(late.get(late.size() - 1).result());
    }

    @Test
    void run_clientGoneBeforeCompleted_resultKeptForDownload() throws Exception {
        byte[] body = payload("wait kept");
        String id = null;
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
            socket.setSoLinger(true, 0); // closing resets the connection: the server's next write fails
            socket.setSoTimeout(10_000);
            sendStreamingSubmission(socket, body);
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("HTTP/1.1 200 OK", in.readLine());
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("data: ")) {
                    StatusMessage event = StatusMessage.fromJson(line.substring(6));
                    id = event.id();
                    if (event.status() == JobStatus.RUNNING) {
                        break; // gone before COMPLETED
                    }
                }
            }
        }
        assertNotNull(id);
        EXECUTOR.gate.countDown();
        TestServers.awaitStatus(direct, id, JobStatus.COMPLETED);
        // The stream's write of COMPLETED failed: the result it took is back, for a download.
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try {
                assertEquals("kept", text(direct.download(id, 100)));
                return;
            } catch (RemoteException e) {
                if (!e.getMessage().contains("downloaded already") || System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(10); // the failed stream has not put it back yet
            }
        }
    }

    @Test
    void run_answerBreaksMidJob_followsTheJobOnItsStreamAndGetsTheResultInline() throws Exception {
        ScriptExecutor executor = new ScriptExecutor(); // a gate of its own: the class's opens once for good
        try (ModelServer own = TestServers.builder(executor).start();
                CountingProxy network = new CountingProxy(own.port());
                HttpTransport client = new HttpTransport(network.url(), ALICE)) {
            List<StatusMessage> seen = Collections.synchronizedList(new ArrayList<>());
            ExecutorService thread = Executors.newSingleThreadExecutor();
            Future<byte[]> result = thread.submit(() -> client.run("tiny", payload("wait resumed"), seen::add, 1 << 20));
            TestServers.awaitSeen(seen, JobStatus.RUNNING, 1);
            String id = seen.get(0).id();

            network.cut(); // the server learns of it only when it next writes to the old answer
            TestServers.awaitSeen(seen, JobStatus.RUNNING, 2); // the job's own stream starts with its latest status
            executor.gate.countDown();

            assertEquals("resumed", text(result.get(10, TimeUnit.SECONDS)));
            thread.shutdown();
            assertEquals(List.of("POST /request HTTP/1.1", "GET /stream/" + id + " HTTP/1.1"),
                    network.takeRequestLines(), "the result came inline on the new stream: no download");
            StatusMessage completed = seen.get(seen.size() - 1);
            assertEquals(JobStatus.COMPLETED, completed.status());
            assertNotNull(completed.result());
            seen.forEach(message -> assertEquals(id, message.id()));
        }
    }

    @Test
    void await_twoStreamsOfOneJob_theNewestTakesTheResultInline() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer own = TestServers.builder(executor).start();
                HttpTransport older = new HttpTransport(own.url(), ALICE);
                HttpTransport newer = new HttpTransport(own.url(), ALICE)) {
            String id = older.submit("tiny", payload("wait twice")).id();
            List<StatusMessage> first = Collections.synchronizedList(new ArrayList<>());
            List<StatusMessage> second = Collections.synchronizedList(new ArrayList<>());
            ExecutorService threads = Executors.newFixedThreadPool(2);
            Future<byte[]> fromOlder = threads.submit(() -> older.await(id, first::add, 100));
            TestServers.awaitSeen(first, JobStatus.RUNNING, 1);
            Future<byte[]> fromNewer = threads.submit(() -> newer.await(id, second::add, 100));
            TestServers.awaitSeen(second, JobStatus.RUNNING, 1);
            executor.gate.countDown();

            assertEquals("twice", text(fromNewer.get(10, TimeUnit.SECONDS)));
            ExecutionException lost = assertThrows(ExecutionException.class, () -> fromOlder.get(10, TimeUnit.SECONDS));
            threads.shutdown();
            assertTrue(lost.getCause().getMessage().contains("downloaded already"), lost.getCause().getMessage());
            assertNotNull(second.get(second.size() - 1).result());
            assertNull(first.get(first.size() - 1).result(), "an older stream sends COMPLETED without the result");
        }
    }

    @Test
    void run_refusedBeforeTheJobIsKnown_notFollowedAgain() {
        proxy.takeRequests();
        RemoteException refused = assertThrows(RemoteException.class,
                () -> http.run("no-such-model", payload("echo x"), message -> { }, 100));

        assertTrue(refused.getMessage().contains("no-such-model"), refused.getMessage());
        assertEquals(List.of("POST /request HTTP/1.1"), proxy.takeRequestLines());
    }

    @Test
    void run_quickJob_itsStatusesInOneWrite() throws IOException {
        // A job that ends within the server's event delay of its first status: its events go out in one write (an
        // answer of one chunk, or with a length). A few tries, as a busy machine may take longer for one.
        List<String> chunks = List.of();
        for (int i = 0; i < 5 && chunks.size() != 1; i++) {
            chunks = rawStreamChunks(payload("echo quick"));
            String events = String.join("", chunks);
            assertTrue(events.startsWith("data: {\"id\"") && events.contains("\"status\":\"RECEIVED\"")
                    && events.contains("\"status\":\"COMPLETED\"") && events.endsWith("}\n\n"), events);
        }
        assertEquals(1, chunks.size(), chunks.toString());
    }

    /** Writes a streaming submission of {@code body}, asking for its result inline, on {@code socket}. */
    private static void sendStreamingSubmission(Socket socket, byte[] body) throws IOException {
        StringBuilder request = new StringBuilder("POST " + Protocol.REQUEST + " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        String[] headers = streamingSubmission(Protocol.VERSION, Integer.toString(Protocol.MAX_INLINE_RESULT_BYTES));
        for (int i = 0; i < headers.length; i += 2) {
            request.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
        }
        request.append("Content-Type: application/octet-stream\r\nContent-Length: ").append(body.length).append("\r\n\r\n");
        OutputStream out = socket.getOutputStream();
        out.write(request.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    /** The data chunks of the answer to a streaming submission of {@code body}, sent on a socket of its own. */
    private static List<String> rawStreamChunks(byte[] body) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
            socket.setSoTimeout(10_000);
            sendStreamingSubmission(socket, body);
            InputStream in = new BufferedInputStream(socket.getInputStream());
            assertEquals("HTTP/1.1 200 OK", asciiLine(in));
            boolean chunked = false;
            int length = -1;
            for (String header; !(header = asciiLine(in)).isEmpty(); ) {
                chunked |= header.equalsIgnoreCase("Transfer-Encoding: chunked");
                if (header.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                    length = Integer.parseInt(header.substring(15).trim());
                }
            }
            if (length >= 0) { // the whole answer in its first write: Jetty gives it a length
                return List.of(new String(in.readNBytes(length), StandardCharsets.UTF_8));
            }
            assertTrue(chunked, "an event stream of several writes is sent in chunks");
            List<String> chunks = new ArrayList<>();
            for (int size; (size = Integer.parseInt(asciiLine(in).trim(), 16)) > 0; ) {
                chunks.add(new String(in.readNBytes(size), StandardCharsets.UTF_8));
                assertEquals("", asciiLine(in));
            }
            return chunks;
        }
    }

    private static String asciiLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b; (b = in.read()) != '\n'; ) {
            if (b < 0) {
                throw new IOException("the answer ended inside a line: " + line);
            }
            line.write(b);
        }
        return line.toString(StandardCharsets.US_ASCII).replaceAll("\r$", "");
    }
}
