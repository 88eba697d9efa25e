package io.nnsight.remote.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The transport without a server; {@code remote-server}'s tests run it against real servers. */
class HttpTransportTest {
    @Test
    void ping_nothingListening() throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String url = "http://127.0.0.1:" + port;
        try (HttpTransport http = new HttpTransport(url, "key")) {
            RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> assertThrows(RemoteException.class, http::ping));
            assertTrue(e.getMessage().contains("cannot reach the nnsight server at " + url), e.getMessage());
            assertTrue(e.getMessage().contains("is `nnsight serve` running there"), e.getMessage());
        }
    }

    @Test
    void constructor_notAnHttpUrl() {
        for (String url : new String[] {"localhost:8642", "ftp://host/", "http://", "::"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new HttpTransport(url, null), url);
            assertTrue(e.getMessage().contains(url), e.getMessage());
        }
    }

    @Test
    void url_withoutTrailingSlash() {
        try (HttpTransport http = new HttpTransport("http://example.org:8642/nnsight/", null)) {
            assertEquals("http://example.org:8642/nnsight", http.url());
        }
    }

    /**
     * Answers one request on a loopback port with {@code head} (status line and headers, without the blank line)
     * and {@code body}, then closes the connection; returns the server's URL.
     */
    private static String answeringOnce(String head, byte[] body) throws IOException {
        ServerSocket server = new ServerSocket(0);
        Thread answering = new Thread(() -> {
            try (server; Socket socket = server.accept()) {
                InputStream in = socket.getInputStream();
                for (int matched = 0; matched < 4; ) { // the request ends with a blank line: \r\n\r\n
                    int b = in.read();
                    if (b < 0) {
                        return;
                    }
                    matched = b == (matched % 2 == 0 ? '\r' : '\n') ? matched + 1 : (b == '\r' ? 1 : 0);
                }
                OutputStream out = socket.getOutputStream();
                out.write((head + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
            } catch (IOException e) {
                // the client hung up early: what the test expects of some answers
            }
        });
        answering.setDaemon(true);
        answering.start();
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    private static byte[] chunked(byte[] data) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int at = 0; at < data.length; at += 8000) {
            int n = Math.min(8000, data.length - at);
            bytes.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            bytes.write(data, at, n);
            bytes.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        bytes.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        return bytes.toByteArray();
    }

    @Test
    void ping_bodyWithOrWithoutALength_isRead() throws IOException {
        byte[] pong = "pong".getBytes(StandardCharsets.US_ASCII);
        for (String url : new String[] {answeringOnce("HTTP/1.1 200 OK\r\nContent-Length: 4", pong),
                answeringOnce("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", chunked(pong))}) {
            try (HttpTransport http = new HttpTransport(url, null)) {
                assertTimeoutPreemptively(Duration.ofSeconds(20), http::ping);
            }
        }
    }

    @Test
    void ping_bodyPastTheLimit_isRefused_announcedOrNot() throws IOException {
        byte[] large = new byte[(1 << 20) + 1];
        for (String url : new String[] {answeringOnce("HTTP/1.1 200 OK\r\nContent-Length: " + large.length, large),
                answeringOnce("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", chunked(large))}) {
            try (HttpTransport http = new HttpTransport(url, null)) {
                RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                        () -> assertThrows(RemoteException.class, http::ping));
                assertTrue(e.getMessage().contains("sent more than 1048576 bytes where at most that many were expected"),
                        e.getMessage());
            }
        }
    }

    @Test
    void ping_bodyShorterThanAnnounced_isABrokenConnection() throws IOException {
        String url = answeringOnce("HTTP/1.1 200 OK\r\nContent-Length: 10", "pong".getBytes(StandardCharsets.US_ASCII));
        try (HttpTransport http = new HttpTransport(url, null)) {
            RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> assertThrows(RemoteException.class, http::ping));
            assertTrue(e.getMessage().contains("broke while ping"), e.getMessage());
        }
    }

    private static final String EVENT_STREAM_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            + "Transfer-Encoding: chunked";

    @Test
    void stream_eventsAcrossReadsAndLineEnds_areEachReadWhole() throws IOException {
        String id = UUID.randomUUID().toString();
        String longText = "é".repeat(7000) + "x".repeat(9001); // a line over two reads, a character split by one
        String body = "data: " + StatusMessage.of(id, JobStatus.RECEIVED, null).toJson() + "\r\n\r\n"
                + ": heartbeat\n\n"
                + "data: " + StatusMessage.of(id, JobStatus.LOG, longText).toJson() + "\n\n"
                + "data:" + StatusMessage.completed(id, 5).toJson() + "\n\n";
        String url = answeringOnce(EVENT_STREAM_HEAD, chunked(body.getBytes(StandardCharsets.UTF_8)));
        List<StatusMessage> seen = new ArrayList<>();
        try (HttpTransport http = new HttpTransport(url, null)) {
            StatusMessage completed = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> http.stream(id, seen::add));
            assertEquals(JobStatus.COMPLETED, completed.status());
            assertEquals(5L, completed.size());
        }
        assertEquals(List.of(JobStatus.RECEIVED, JobStatus.LOG, JobStatus.COMPLETED),
                seen.stream().map(StatusMessage::status).toList());
        assertEquals(longText, seen.get(1).description());
    }

    @Test
    void stream_lineLongerThanTheLimit_isRefused() throws IOException {
        byte[] line = ("data: " + "x".repeat(Protocol.MAX_EVENT_LINE_BYTES) + "\n\n").getBytes(StandardCharsets.US_ASCII);
        String url = answeringOnce(EVENT_STREAM_HEAD, chunked(line));
        try (HttpTransport http = new HttpTransport(url, null)) {
            RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> assertThrows(RemoteException.class, () -> http.stream(UUID.randomUUID().toString(), m -> { })));
            assertTrue(e.getMessage().contains("sent an event line longer than " + Protocol.MAX_EVENT_LINE_BYTES + " bytes"),
                    e.getMessage());
        }
    }

    @Test
    void stream_endingBeforeTheFinalStatus_saysSo() throws IOException {
        String id = UUID.randomUUID().toString();
        String body = "data: " + StatusMessage.of(id, JobStatus.RUNNING, null).toJson() + "\n\ndata: {\"id\"";
        String url = answeringOnce(EVENT_STREAM_HEAD, chunked(body.getBytes(StandardCharsets.UTF_8)));
        try (HttpTransport http = new HttpTransport(url, null)) {
            RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> assertThrows(RemoteException.class, () -> http.stream(id, m -> { })));
            assertTrue(e.getMessage().contains("ended the status stream of job " + id + " before the job finished"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("its last status was RUNNING"), e.getMessage());
        }
    }
}
