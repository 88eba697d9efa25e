package io.nnsight.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client against a misbehaving server (a real Jetty with a handler that breaks the protocol): each
 * failure is a {@link RemoteException} that says what went wrong, and none hangs.
 */
class TransportFailuresTest {
    private static final String JOB = "6f1c2d9e-1b4a-4c1e-9a6e-2f3b4c5d6e7f";
    /** A job of a server older than one-exchange jobs, which answers a submission with RECEIVED alone. */
    private static final String OLD = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
    private static Server jetty;
    private static HttpTransport http;
    private static String url;

    @BeforeAll
    static void start() throws Exception {
        jetty = new Server();
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        jetty.addConnector(connector);
        jetty.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                String path = Request.getPathInContext(request);
                switch (path) {
                    case Protocol.STREAM + JOB: // a server that dies after RUNNING
                        send(response, callback, 200, "text/event-stream",
                                "data: " + StatusMessage.of(JOB, JobStatus.RUNNING, null).toJson() + "\n\n");
                        break;
                    case Protocol.STREAM + "mixed":
                        send(response, callback, 200, "text/event-stream",
                                "data: " + StatusMessage.of(JOB, JobStatus.RUNNING, null).toJson() + "\n\n");
                        break;
                    case Protocol.REQUEST:
                        submission(request, response, callback);
                        break;
                    case Protocol.STREAM + OLD:
                        send(response, callback, 200, "text/event-stream",
                                "data: " + StatusMessage.of(OLD, JobStatus.RUNNING, null).toJson() + "\n\n"
                                + "data: " + StatusMessage.completed(OLD, 11).toJson() + "\n\n");
                        break;
                    case Protocol.RESULT + OLD:
                        response.setStatus(200);
                        response.write(true, ByteBuffer.wrap(Compression.compress("the old way".getBytes(
                                StandardCharsets.UTF_8))), callback);
                        break;
                    case Protocol.PING:
                        send(response, callback, 200, "text/plain", "hello");
                        break;
                    case Protocol.RESPONSE + JOB:
                        send(response, callback, 200, "application/json", "{not json");
                        break;
                    case Protocol.RESULT + JOB:
                        send(response, callback, 200, "application/octet-stream", "not zstd");
                        break;
                    default:
                        send(response, callback, 502, "text/html", "<html>Bad Gateway</html>");
                }
                return true;
            }
        });
        jetty.start();
        url = "http://127.0.0.1:" + connector.getLocalPort();
        http = new HttpTransport(url, "key");
    }

    /** By model: {@code old} as a server older than one-exchange jobs, {@code broken} with a broken inline result. */
    private static void submission(Request request, Response response, Callback callback) {
        switch (String.valueOf(request.getHeaders().get(Protocol.MODEL_KEY_HEADER))) {
            case "old":
                send(response, callback, 200, "application/json", StatusMessage.of(OLD, JobStatus.RECEIVED, null).toJson());
                break;
            case "broken":
                send(response, callback, 200, "text/event-stream",
                        "data: " + StatusMessage.of(JOB, JobStatus.RECEIVED, null).toJson() + "\n\n"
                        + "data: " + StatusMessage.fromJson("{\"id\":\"" + JOB + "\",\"status\":\"COMPLETED\",\"time\":1,"
                                + "\"result\":\"@@\"}").toJson() + "\n\n");
                break;
            default:
                send(response, callback, 409, "application/json", "{\"error\": \"versions\", \"serverVersion\": \"0.9.2\"}");
        }
    }

    private static void send(Response response, Callback callback, int status, String type, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
    }

    @AfterAll
    static void stop() throws Exception {
        http.close();
        jetty.stop();
    }

    @Test
    void stream_endsWithoutFinalStatus() {
        List<StatusMessage> seen = new ArrayList<>();
        RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(RemoteException.class, () -> http.stream(JOB, seen::add)));
        assertEquals("the server at " + url + " ended the status stream of job " + JOB + " before the job finished: the "
                + "server may have stopped or restarted (its last status was RUNNING)", e.getMessage());
        assertEquals(1, seen.size());
    }

    @Test
    void stream_anotherJobsStatus() {
        RemoteException e = assertThrows(RemoteException.class, () -> http.stream("mixed", m -> {}));
        assertEquals("the server at " + url + " sent the status of job " + JOB + " when asked about job mixed",
                e.getMessage());
    }

    @Test
    void submit_otherVersion_bothVersions() {
        RemoteException e = assertThrows(RemoteException.class, () -> http.submit("m", new byte[] {1}));
        assertEquals("nnsight versions do not match: this client is " + Protocol.VERSION + ", the server at " + url
                + " is 0.9.2; client and server must share major and minor version", e.getMessage());
    }

    @Test
    void run_serverWithoutOneExchangeJobs_followsAndDownloads() {
        List<StatusMessage> seen = new ArrayList<>();
        byte[] result = http.run("old", new byte[] {1}, seen::add, 100);
        assertEquals("the old way", new String(result, StandardCharsets.UTF_8));
        assertEquals(List.of(JobStatus.RECEIVED, JobStatus.RUNNING, JobStatus.COMPLETED),
                seen.stream().map(StatusMessage::status).toList());
    }

    @Test
    void run_inlineResultNotBase64() {
        RemoteException e = assertThrows(RemoteException.class, () -> http.run("broken", new byte[] {1}, m -> {}, 100));
        assertEquals("the server at " + url + " sent a broken result for job " + JOB + ": its inline result is not base64",
                e.getMessage());
    }

    @Test
    void ping_notPong() {
        RemoteException e = assertThrows(RemoteException.class, http::ping);
        assertEquals("the server at " + url + " answered /ping with \"hello\" instead of \"pong\": is it an nnsight "
                + "server?", e.getMessage());
    }

    @Test
    void poll_malformedStatus() {
        RemoteException e = assertThrows(RemoteException.class, () -> http.poll(JOB));
        assertTrue(e.getMessage().startsWith("the server at " + url + " sent a malformed status (not a status message: "
                + "{not json)"), e.getMessage());
    }

    @Test
    void download_notZstd() {
        RemoteException e = assertThrows(RemoteException.class, () -> http.download(JOB, 100));
        assertTrue(e.getMessage().startsWith("the server at " + url + " sent a broken result for job " + JOB + ": "),
                e.getMessage());
    }

    @Test
    void env_notJson() {
        RemoteException e = assertThrows(RemoteException.class, http::env);
        assertEquals("the server at " + url + " answered HTTP 502 while asking for /env: <html>Bad Gateway</html>", e.getMessage());
    }
}
