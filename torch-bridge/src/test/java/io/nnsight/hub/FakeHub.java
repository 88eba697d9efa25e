package io.nnsight.hub;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real HTTP server on the loopback interface that speaks the hub's file protocol for one repository:
 * {@code HEAD} and {@code GET} of {@code /<repo>/resolve/<revision>/<file>}, with {@code X-Repo-Commit}, {@code ETag},
 * the hub's {@code X-Error-Code} on 404s, range requests, redirects of large files to {@code /cdn/<etag>} on this
 * or another server, an optional required token, and connections dropped halfway on request.
 */
final class FakeHub implements AutoCloseable {
    /** One request as the server saw it. */
    record Request(String method, String path, String authorization, String range) { }

    private static final Pattern RESOLVE = Pattern.compile("/(.+)/resolve/([^/]+)/(.+)");
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private final HttpServer server;
    private final String repoId;
    private final Map<String, Map<String, byte[]>> filesByCommit = new ConcurrentHashMap<>();
    private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
    private final List<Request> requests = new ArrayList<>();
    private final AtomicInteger connectionsToDrop = new AtomicInteger();
    private volatile String mainCommit;
    private volatile String requiredToken;
    private volatile FakeHub largeFileStorage;
    private volatile boolean ignoreRanges;

    FakeHub(String repoId) throws IOException {
        this.repoId = repoId;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    /** The base URL, like {@code http://127.0.0.1:41234}. */
    URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** Publishes a new commit with exactly these files and moves {@code main} to it; returns the commit hash. */
    String publish(Map<String, byte[]> files) {
        byte[] bytes = new byte[20];
        ThreadLocalRandom.current().nextBytes(bytes);
        String commit = HexFormat.of().formatHex(bytes);
        filesByCommit.put(commit, Map.copyOf(files));
        mainCommit = commit;
        return commit;
    }

    /** Answers 401 to requests without {@code Authorization: Bearer <token>}. */
    void requireToken(String token) {
        this.requiredToken = token;
    }

    /** Redirects file requests, like the hub redirects LFS files, to {@code /cdn/<etag>} of {@code storage}. */
    void redirectFilesTo(FakeHub storage) {
        this.largeFileStorage = storage;
    }

    /** Makes the next {@code count} file transfers stop after half of their bytes by closing the connection. */
    void dropConnectionsHalfway(int count) {
        connectionsToDrop.set(count);
    }

    /** Answers range requests with the whole file, as servers without range support do. */
    void ignoreRanges() {
        this.ignoreRanges = true;
    }

    /** The requests received so far, in order. */
    List<Request> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    /** The {@code GET} requests received so far. */
    List<Request> gets() {
        return requests().stream().filter(request -> request.method().equals("GET")).toList();
    }

    /** The ETag that the server gives a file's content: its SHA-256, as the hub does for LFS files. */
    static String etagOf(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try {
            Headers headers = exchange.getRequestHeaders();
            String path = exchange.getRequestURI().getPath();
            synchronized (requests) {
                requests.add(new Request(exchange.getRequestMethod(), path, headers.getFirst("Authorization"),
                        headers.getFirst("Range")));
            }
            if (path.startsWith("/cdn/")) {
                byte[] content = blobs.get(path.substring("/cdn/".length()));
                if (content == null) {
                    sendEmpty(exchange, 404);
                } else {
                    sendContent(exchange, content);
                }
                return;
            }
            if (requiredToken != null && !("Bearer " + requiredToken).equals(headers.getFirst("Authorization"))) {
                sendEmpty(exchange, 401);
                return;
            }
            Matcher resolve = RESOLVE.matcher(path);
            if (!resolve.matches() || !resolve.group(1).equals(repoId)) {
                sendError(exchange, "RepoNotFound", "Repository not found");
                return;
            }
            String revision = resolve.group(2);
            String commit = revision.equals("main") ? mainCommit : revision;
            Map<String, byte[]> files = commit == null ? null : filesByCommit.get(commit);
            if (files == null) {
                sendError(exchange, "RevisionNotFound", "Invalid rev id: " + revision);
                return;
            }
            exchange.getResponseHeaders().set("X-Repo-Commit", commit);
            byte[] content = files.get(resolve.group(3));
            if (content == null) {
                sendError(exchange, "EntryNotFound", "Entry not found");
                return;
            }
            String etag = etagOf(content);
            FakeHub storage = largeFileStorage;
            if (storage != null) {
                storage.blobs.put(etag, content);
                exchange.getResponseHeaders().set("Location", storage.endpoint() + "/cdn/" + etag);
                exchange.getResponseHeaders().set("X-Linked-Etag", "\"" + etag + "\"");
                exchange.getResponseHeaders().set("X-Linked-Size", Integer.toString(content.length));
                exchange.getResponseHeaders().set("ETag", "W/\"redirect-page\"");
                sendEmpty(exchange, 302);
                return;
            }
            exchange.getResponseHeaders().set("ETag", "\"" + etag + "\"");
            sendContent(exchange, content);
        } finally {
            exchange.close();
        }
    }

    /** Sends the content, or the part that a {@code Range: bytes=<start>-} header asks for. */
    private void sendContent(HttpExchange exchange, byte[] content) throws IOException {
        Headers response = exchange.getResponseHeaders();
        if (exchange.getRequestMethod().equals("HEAD")) {
            response.set("Content-Length", Integer.toString(content.length));
            exchange.sendResponseHeaders(200, -1);
            return;
        }
        int start = 0;
        String range = exchange.getRequestHeaders().getFirst("Range");
        Matcher matcher = range == null ? null : RANGE.matcher(range);
        if (matcher != null && matcher.matches() && !ignoreRanges) {
            start = Integer.parseInt(matcher.group(1));
            if (start >= content.length) {
                response.set("Content-Range", "bytes */" + content.length);
                sendEmpty(exchange, 416);
                return;
            }
            response.set("Content-Range", "bytes " + start + "-" + (content.length - 1) + "/" + content.length);
        }
        int length = content.length - start;
        exchange.sendResponseHeaders(start > 0 ? 206 : 200, length == 0 ? -1 : length);
        OutputStream body = exchange.getResponseBody();
        if (connectionsToDrop.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            body.write(content, start, length / 2);
            body.flush();
            throw new IOException("dropping the connection halfway, as asked"); // the server closes the connection
        }
        body.write(content, start, length);
    }

    private static void sendError(HttpExchange exchange, String errorCode, String message) throws IOException {
        exchange.getResponseHeaders().set("X-Error-Code", errorCode);
        exchange.getResponseHeaders().set("X-Error-Message", message);
        byte[] body = ("{\"error\":\"" + message + "\"}").getBytes(StandardCharsets.UTF_8);
        if (exchange.getRequestMethod().equals("HEAD")) {
            exchange.sendResponseHeaders(404, -1);
        } else {
            exchange.sendResponseHeaders(404, body.length);
            exchange.getResponseBody().write(body);
        }
    }

    private static void sendEmpty(HttpExchange exchange, int status) throws IOException {
        exchange.sendResponseHeaders(status, -1);
    }
}
