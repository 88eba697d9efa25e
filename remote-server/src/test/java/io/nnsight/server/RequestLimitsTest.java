package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static io.nnsight.server.TestServers.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdOutputStream;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.Protocol;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.InputStreamEntity;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Requests that are malformed, too large, for no hosted model or from another nnsight version. */
class RequestLimitsTest {
    private static final long MAX_REQUEST = 1 << 20;
    private static final ScriptExecutor EXECUTOR = new ScriptExecutor();
    private static ModelServer server;
    private static HttpTransport http;
    private static RawHttp raw;

    @BeforeAll
    static void start() {
        // The decompressed limit keeps its default, 256 MiB.
        server = TestServers.builder(EXECUTOR).model("tiny2", TestServers.tiny()).maxRequestBytes(MAX_REQUEST).start();
        http = new HttpTransport(server.url(), ALICE);
        raw = new RawHttp(server.url());
    }

    @AfterAll
    static void stop() throws Exception {
        raw.close();
        http.close();
        server.close();
    }

    private static RawHttp.Answer submit(byte[] body) {
        return raw.post(Protocol.REQUEST, new ByteArrayEntity(body, ContentType.APPLICATION_OCTET_STREAM),
                RawHttp.submission(ALICE, "tiny"));
    }

    private static byte[] random(int size) {
        byte[] bytes = new byte[size];
        new Random(size).nextBytes(bytes);
        return bytes;
    }

    /** The server still takes jobs. */
    private static void assertServes() {
        assertEquals("fine", text(http.download(http.stream(http.submit("tiny", payload("echo fine")).id(), m -> {}).id(), 100)));
    }

    @Test
    void builder_countPastTheIntRange_saysTheMostItTakes() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ModelServer.builder().batchTokens(3_000_000_000L));
        assertEquals("batchTokens must be at most " + (Integer.MAX_VALUE - 8) + ": 3000000000", error.getMessage());
    }

    @Test
    void builder_sizePastTheIntRange_saysTheMostInBytes() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ModelServer.builder().maxResultBytes(3L << 30));
        assertEquals("maxResultBytes must be at most " + (Integer.MAX_VALUE - 8) + " bytes (2 GiB): " + (3L << 30),
                error.getMessage());
    }

    @Test
    void request_notZstd_400() {
        RawHttp.Answer answer = submit("echo plain".getBytes(StandardCharsets.UTF_8));
        assertEquals(400, answer.code());
        assertEquals("malformed request: the payload is not zstd-compressed data (it does not start with zstd's magic "
                + "number)", answer.error());
        assertServes();
    }

    @Test
    void request_truncatedZstd_400() {
        byte[] packed = Compression.compress(random(10_000));
        RawHttp.Answer answer = submit(Arrays.copyOf(packed, packed.length - 100));
        assertEquals(400, answer.code());
        assertTrue(answer.error().startsWith("malformed request: the payload is not valid zstd data"), answer.body());
    }

    @Test
    void request_empty_400() {
        RawHttp.Answer answer = submit(new byte[0]);
        assertEquals(400, answer.code());
        assertEquals("malformed request: the payload is empty, expected zstd-compressed data", answer.error());
    }

    @Test
    void request_missingHeaders_400() {
        String[] complete = RawHttp.submission(ALICE, "tiny");
        for (int header = 2; header < complete.length; header += 2) { // all but the API key
            String[] headers = complete.clone();
            headers[header + 1] = null;
            RawHttp.Answer answer = raw.post(Protocol.REQUEST,
                    new ByteArrayEntity(payload("echo x"), ContentType.APPLICATION_OCTET_STREAM), headers);
            assertEquals(400, answer.code(), complete[header]);
            assertTrue(answer.error().startsWith("missing header " + complete[header] + ": "), answer.body());
        }
        String[] headers = complete.clone();
        headers[7] = "twenty-one";
        RawHttp.Answer answer = raw.post(Protocol.REQUEST,
                new ByteArrayEntity(payload("echo x"), ContentType.APPLICATION_OCTET_STREAM), headers);
        assertEquals(400, answer.code());
        assertEquals("malformed header nnsight-java-version: 'twenty-one' (expected the client's Java feature version, "
                + "such as 21)", answer.error());
    }

    @Test
    void request_tooLargeWithLength_413() {
        byte[] large = Compression.compress(random((int) MAX_REQUEST + 1000)); // random bytes do not compress
        RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(RemoteException.class, () -> http.submit("tiny", large)));
        assertEquals("the server at " + server.url() + " refused the request as too large: request too large: "
                + large.length + " bytes, limit 1048576 bytes (compressed)", e.getMessage());
        assertServes();
    }

    @Test
    void request_tooLargeChunked_413() {
        byte[] large = random((int) MAX_REQUEST + 100_000);
        // No Content-Length: the server counts while it reads.
        RawHttp.Answer answer = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> raw.post(Protocol.REQUEST,
                new InputStreamEntity(new ByteArrayInputStream(large), -1, ContentType.APPLICATION_OCTET_STREAM),
                RawHttp.submission(ALICE, "tiny")));
        assertEquals(413, answer.code());
        assertEquals("request too large: more than 1048576 bytes, limit 1048576 bytes (compressed)", answer.error());
        assertServes();
    }

    @Test
    void request_chunkedWithinLimit_accepted() {
        byte[] body = payload("echo chunked");
        RawHttp.Answer answer = raw.post(Protocol.REQUEST,
                new InputStreamEntity(new ByteArrayInputStream(body), -1, ContentType.APPLICATION_OCTET_STREAM),
                RawHttp.submission(ALICE, "tiny"));
        assertEquals(200, answer.code(), answer.body());
        assertEquals("RECEIVED", answer.json().get("status").getAsString());
    }

    @Test
    void request_decompressionBomb_413() throws IOException {
        ByteArrayOutputStream bomb = new ByteArrayOutputStream();
        byte[] zeros = new byte[1 << 20];
        try (ZstdOutputStream out = new ZstdOutputStream(bomb, Compression.LEVEL)) {
            for (int i = 0; i < 1024; i++) { // 1 GiB
                out.write(zeros);
            }
        }
        assertTrue(bomb.size() < MAX_REQUEST / 4, "the bomb is small: " + bomb.size());
        RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(RemoteException.class, () -> http.submit("tiny", bomb.toByteArray())));
        assertEquals("the server at " + server.url() + " refused the request as too large: request too large: it "
                + "decompresses to more than 268435456 bytes, the limit", e.getMessage());
        assertServes();
    }

    @Test
    void request_stalledUpload_408() throws IOException {
        try (Socket socket = startUpload(1000, 10)) {
            String answer = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> readAnswer(socket));
            assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
            assertTrue(answer.contains("the request body came too slowly: 10 bytes in"), answer);
        }
        assertServes();
    }

    @Test
    void request_tricklingUpload_408() throws IOException {
        try (Socket socket = startUpload(1_000_000, 100)) {
            OutputStream out = socket.getOutputStream();
            String answer = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                // 100 bytes a second, never a pause long enough to time out: too slow all the same
                try {
                    for (int second = 0; second < 20; second++) {
                        Thread.sleep(1000);
                        out.write(new byte[100]);
                        out.flush();
                    }
                } catch (IOException cutOff) {
                    // the server answered and closed the connection
                }
                return readAnswer(socket);
            });
            assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
            assertTrue(answer.contains("needs 16384 bytes/s after the first 5 s"), answer);
        }
        assertServes();
    }

    /** Opens a submission that announces {@code length} bytes and sends the first {@code sent}. */
    private static Socket startUpload(int length, int sent) throws IOException {
        URI url = URI.create(server.url());
        Socket socket = new Socket(url.getHost(), url.getPort());
        socket.setSoTimeout(30_000);
        StringBuilder head = new StringBuilder("POST " + Protocol.REQUEST + " HTTP/1.1\r\nHost: " + url.getHost()
                + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + length + "\r\n");
        String[] headers = RawHttp.submission(ALICE, "tiny");
        for (int i = 0; i < headers.length; i += 2) {
            head.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
        }
        OutputStream out = socket.getOutputStream();
        out.write(head.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
        out.write(new byte[sent]);
        out.flush();
        return socket;
    }

    private static String readAnswer(Socket socket) throws IOException {
        return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void request_unknownModel_404ListsModels() {
        RemoteException e = assertThrows(RemoteException.class, () -> http.submit("gpt-5", payload("echo x")));
        assertEquals("the server at " + server.url() + " hosts no model 'gpt-5'; it hosts: tiny, tiny2", e.getMessage());
        RawHttp.Answer answer = raw.post(Protocol.REQUEST,
                new ByteArrayEntity(payload("echo x"), ContentType.APPLICATION_OCTET_STREAM), RawHttp.submission(ALICE, "gpt-5"));
        assertEquals(404, answer.code());
        assertEquals("no model 'gpt-5' on this server; it hosts tiny, tiny2", answer.error());
        assertEquals("[\"tiny\",\"tiny2\"]", answer.json().get("models").toString());
    }

    @Test
    void request_otherVersion_409() {
        String[] headers = RawHttp.submission(ALICE, "tiny");
        headers[5] = "0.2.0";
        RawHttp.Answer answer = raw.post(Protocol.REQUEST,
                new ByteArrayEntity(payload("echo x"), ContentType.APPLICATION_OCTET_STREAM), headers);
        assertEquals(409, answer.code());
        assertEquals("the client's nnsight 0.2.0 cannot work with the server's " + Protocol.VERSION
                + ": both must share major and minor version", answer.error());
        assertEquals(Protocol.VERSION, answer.json().get("serverVersion").getAsString());
    }
}
