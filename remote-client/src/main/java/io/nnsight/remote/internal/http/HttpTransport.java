package io.nnsight.remote.internal.http;

import com.github.luben.zstd.Zstd;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Consumer;
import org.apache.hc.client5.http.ConnectTimeoutException;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpHeaders;
import org.apache.hc.core5.http.io.HttpClientResponseHandler;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.util.Timeout;

/**
 * The client side of the HTTP protocol of {@code docs/remote.md}: submits jobs, follows their status, and
 * downloads their results, or does all three in one exchange ({@link #run}), over one pool of keep-alive
 * connections. Thread-safe; close it to free the connections.
 *
 * <pre>{@code
 * try (HttpTransport http = new HttpTransport("http://localhost:8642", apiKey)) {
 *     // one exchange: submits, follows, and takes a small result inline (a larger one is downloaded)
 *     byte[] result = http.run("stories260K", Compression.compress(request), statusLine, 1L << 30);
 *
 *     // or step by step, as a program that does something else meanwhile
 *     StatusMessage received = http.submit("stories260K", Compression.compress(request));
 *     http.stream(received.id(), statusLine);                 // returns at COMPLETED
 *     byte[] same = http.download(received.id(), 1L << 30);
 * }
 * }</pre>
 *
 * <p>Every failure is a {@link RemoteException} whose message says what happened and what to do: the
 * server cannot be reached, refuses the API key (401), hosts no such model (404, with the models it hosts),
 * runs an incompatible nnsight version (409, with both versions), finds the request too large (413, with
 * the limit), reports the job as failed ({@code ERROR}, with the server's description), or stops in the
 * middle of a job.
 *
 * <p><b>Time-outs.</b> Connecting gives up after 10 seconds, a plain request after 2 minutes without an
 * answer. A job may wait in the queue for much longer: the status stream (and the answer to {@link #run}) has
 * no overall limit, but the server sends a heartbeat every {@link Protocol#HEARTBEAT}, and a stream silent for
 * four heartbeats is taken for a lost connection. A download fails after 5 minutes without a byte.
 */
public final class HttpTransport implements AutoCloseable {
    static final Timeout CONNECT_TIMEOUT = Timeout.ofSeconds(10);
    static final Timeout RESPONSE_TIMEOUT = Timeout.ofMinutes(2);
    static final Timeout DOWNLOAD_TIMEOUT = Timeout.ofMinutes(5);
    static final Timeout STREAM_TIMEOUT = Timeout.ofMilliseconds(Protocol.HEARTBEAT.toMillis() * 4);

    /**
     * The largest request body sent with its headers; a larger one waits for the server's go-ahead ({@code Expect:
     * 100-continue}), so that a refusal comes before it is sent, at the cost of a round trip.
     */
    static final int EXPECT_CONTINUE_BYTES = 1 << 20;
    /** The most bytes of a JSON answer or an error body the client reads. */
    private static final int MAX_JSON_BYTES = 1 << 20;

    private final String url;
    private final String apiKey;
    private final CloseableHttpClient client;

    /**
     * A transport to the server at {@code baseUrl} ({@code http://host:8642}, or https, maybe with a path
     * prefix), sending {@code apiKey} with each request, or none when {@code null}.
     *
     * @throws IllegalArgumentException when {@code baseUrl} is not an http or https URL
     */
    public HttpTransport(String baseUrl, String apiKey) {
        this.url = normalize(baseUrl);
        this.apiKey = apiKey;
        this.client = HttpClients.custom()
                .setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                        .setMaxConnPerRoute(64)
                        .setMaxConnTotal(128)
                        .setDefaultConnectionConfig(ConnectionConfig.custom()
                                .setConnectTimeout(CONNECT_TIMEOUT)
                                .setSocketTimeout(RESPONSE_TIMEOUT)
                                .build())
                        .build())
                .setDefaultRequestConfig(config(RESPONSE_TIMEOUT, false))
                .setUserAgent("nnsight-java/" + Protocol.VERSION)
                .disableRedirectHandling()
                .disableCookieManagement()
                .disableContentCompression()
                .build();
    }

    private static String normalize(String baseUrl) {
        Objects.requireNonNull(baseUrl, "baseUrl");
        URI uri;
        try {
            uri = new URI(baseUrl.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a URL: " + baseUrl + " (" + e.getMessage() + ")", e);
        }
        if (!"http".equalsIgnoreCase(uri.getScheme()) && !"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
            throw new IllegalArgumentException("not an http or https URL of a server: " + baseUrl
                    + " (expected http://host:" + Protocol.DEFAULT_PORT + ")");
        }
        String text = uri.toString();
        while (text.endsWith("/")) {
            text = text.substring(0, text.length() - 1);
        }
        return text;
    }

    private static RequestConfig config(Timeout responseTimeout, boolean expectContinue) {
        return RequestConfig.custom()
                .setResponseTimeout(responseTimeout)
                .setConnectionRequestTimeout(Timeout.ofMinutes(1))
                .setExpectContinueEnabled(expectContinue)
                .setRedirectsEnabled(false)
                .build();
    }

    /** The server's base URL, without a trailing slash. */
    public String url() {
        return url;
    }

    /** Checks that the server answers. */
    public void ping() {
        String answer = execute(get(Protocol.PING, RESPONSE_TIMEOUT), "ping", response -> {
            expectOk(response, "ping");
            return new String(readCapped(response.getEntity(), MAX_JSON_BYTES), StandardCharsets.UTF_8).trim();
        });
        if (!"pong".equals(answer)) {
            throw new RemoteException("the server at " + url + " answered /ping with \"" + abbreviate(answer)
                    + "\" instead of \"pong\": is it an nnsight server?");
        }
    }

    /** The server's versions and hosted models ({@code GET /env}). */
    public JsonObject env() {
        return json(Protocol.ENV);
    }

    /** The state of the server's model queues ({@code GET /status}). */
    public JsonObject status() {
        return json(Protocol.STATUS);
    }

    private JsonObject json(String path) {
        String what = "asking for " + path;
        return execute(get(path, RESPONSE_TIMEOUT), what, response -> {
            expectOk(response, what);
            return parseObject(readCapped(response.getEntity(), MAX_JSON_BYTES), path);
        });
    }

    /**
     * Submits a job: the request payload, already compressed, to run on the model the server hosts as
     * {@code modelKey}.
     *
     * @return the {@code RECEIVED} status, with the job's id
     */
    public StatusMessage submit(String modelKey, byte[] compressedPayload) {
        return execute(submission(modelKey, compressedPayload, RESPONSE_TIMEOUT), "submitting a job", response -> {
            accepted(response, modelKey);
            return statusMessage(readCapped(response.getEntity(), MAX_JSON_BYTES), null);
        });
    }

    /**
     * Runs a job in one exchange: submits it, follows its status messages on the answer to the submission (handing
     * each to {@code listener}, {@code RECEIVED} first), and returns its result, which comes inline with {@code
     * COMPLETED} when it is small ({@link Protocol#MAX_INLINE_RESULT_BYTES} compressed, at most), else is
     * downloaded.
     *
     * <p>If the answer breaks once the job is known (the connection drops, the stream ends early or stays silent),
     * the job is followed on {@code GET /stream/{id}} instead, once, as {@link #await} follows it: the listener then
     * sees the job's latest status again. The server gives the result inline to that newest stream.
     *
     * @param maxResultBytes the most bytes the decompressed result may have
     * @return the result payload, decompressed
     * @throws RemoteException when the server refuses the job (as {@link #submit} says), the job ends in {@code
     *     ERROR} (after the listener has seen it), the stream breaks or stays silent twice (as {@link #stream}
     *     says), or the result is larger than {@code maxResultBytes} or broken (as {@link #download} says)
     */
    public byte[] run(String modelKey, byte[] compressedPayload, Consumer<StatusMessage> listener, long maxResultBytes) {
        Objects.requireNonNull(listener, "listener");
        HttpPost post = submission(modelKey, compressedPayload, STREAM_TIMEOUT);
        post.setHeader(HttpHeaders.ACCEPT, Protocol.EVENT_STREAM);
        long inline = inlineLimit(maxResultBytes);
        post.setHeader(Protocol.INLINE_RESULT_HEADER, Long.toString(inline));
        StatusMessage[] seen = new StatusMessage[1];
        Consumer<StatusMessage> following = message -> {
            seen[0] = message;
            listener.accept(message);
        };
        StatusMessage last;
        try {
            last = execute(post, "running a job on model '" + modelKey + "'", response -> {
                accepted(response, modelKey);
                if (!isEventStream(response)) {
                    // a server older than one-exchange jobs answers RECEIVED alone: the job is followed as it expects
                    StatusMessage received = statusMessage(readCapped(response.getEntity(), MAX_JSON_BYTES), null);
                    following.accept(received);
                    return received;
                }
                return readEvents(null, response.getEntity(), following);
            });
        } catch (RemoteException broken) {
            if (seen[0] == null || seen[0].terminal()) {
                throw broken; // refused before the job was known, or broken after it ended
            }
            try { // the job runs on: follow it on its own stream
                return await(seen[0].id(), listener, maxResultBytes);
            } catch (RemoteException again) {
                again.addSuppressed(broken);
                throw again;
            }
        }
        if (!last.terminal()) {
            return await(last.id(), listener, maxResultBytes);
        }
        return result(checkCompleted(last), inline, maxResultBytes);
    }

    /**
     * Follows a submitted job until it finishes, as {@link #stream} does, and returns its result, inline in the
     * {@code COMPLETED} event when it is small, else downloaded.
     *
     * @param maxResultBytes the most bytes the decompressed result may have
     * @return the result payload, decompressed
     * @throws RemoteException as {@link #stream} and {@link #download} say
     */
    public byte[] await(String jobId, Consumer<StatusMessage> listener, long maxResultBytes) {
        long inline = inlineLimit(maxResultBytes);
        return result(follow(jobId, listener, inline), inline, maxResultBytes);
    }

    /** {@code POST /request} of the payload for model {@code modelKey}, answered within {@code responseTimeout}. */
    private HttpPost submission(String modelKey, byte[] compressedPayload, Timeout responseTimeout) {
        Objects.requireNonNull(modelKey, "modelKey");
        HttpPost post = new HttpPost(url + Protocol.REQUEST);
        headers(post);
        post.setHeader(Protocol.MODEL_KEY_HEADER, modelKey);
        post.setConfig(config(responseTimeout, compressedPayload.length > EXPECT_CONTINUE_BYTES));
        post.setEntity(new ByteArrayEntity(compressedPayload, ContentType.APPLICATION_OCTET_STREAM));
        return post;
    }

    /** Throws the server's refusal of a submission, if it refused. */
    private void accepted(ClassicHttpResponse response, String modelKey) throws IOException {
        if (response.getCode() == 404) {
            unknownModel(response, modelKey);
        }
        expectOk(response, "submitting a job for model '" + modelKey + "'");
    }

    private static boolean isEventStream(ClassicHttpResponse response) {
        HttpEntity entity = response.getEntity();
        return entity != null && entity.getContentType() != null
                && entity.getContentType().toLowerCase(Locale.ROOT).startsWith(Protocol.EVENT_STREAM);
    }

    /** The most compressed bytes to take inline for a result of at most {@code maxResultBytes}. */
    private static long inlineLimit(long maxResultBytes) {
        return Math.min(Protocol.MAX_INLINE_RESULT_BYTES, Zstd.compressBound(maxResultBytes));
    }

    /** The completed job's result: the one inline, at most {@code inline} bytes compressed, else downloaded. */
    private byte[] result(StatusMessage completed, long inline, long maxResultBytes) {
        byte[] compressed;
        try {
            compressed = completed.inlineResult();
        } catch (IllegalArgumentException e) {
            throw new RemoteException("the server at " + url + " sent a broken result for job " + completed.id()
                    + ": its inline result is not base64", e);
        }
        if (compressed == null) {
            return download(completed.id(), maxResultBytes);
        }
        if (compressed.length > inline) {
            throw tooLong(inline);
        }
        return decompress(completed.id(), compressed, maxResultBytes);
    }

    /**
     * Follows a job's status messages until it finishes, handing each to {@code listener} as it arrives
     * (the latest status first, then each change and {@code LOG} line).
     *
     * @return the {@code COMPLETED} status
     * @throws RemoteException when the job ends in {@code ERROR} (after the listener has seen it), the
     *     stream ends before the job finished, or it stays silent for four heartbeats
     */
    public StatusMessage stream(String jobId, Consumer<StatusMessage> listener) {
        return follow(jobId, listener, 0);
    }

    /** {@link #stream}, taking a result of at most {@code inline} compressed bytes inline ({@code 0}: none). */
    private StatusMessage follow(String jobId, Consumer<StatusMessage> listener, long inline) {
        Objects.requireNonNull(listener, "listener");
        HttpGet get = get(Protocol.STREAM + jobId, STREAM_TIMEOUT);
        if (inline > 0) {
            get.setHeader(Protocol.INLINE_RESULT_HEADER, Long.toString(inline));
        }
        String what = "following job " + jobId;
        StatusMessage terminal = execute(get, what, response -> {
            expectOk(response, what);
            return readEvents(jobId, response.getEntity(), listener);
        });
        return checkCompleted(terminal);
    }

    /**
     * The events of a stream up to the final status, each handed to {@code listener}.
     *
     * @param jobId the job the stream is about, or {@code null} for the answer to a submission: the job its first
     *     event names
     */
    private StatusMessage readEvents(String jobId, HttpEntity entity, Consumer<StatusMessage> listener) throws IOException {
        if (entity == null) {
            throw streamEnded(jobId, null);
        }
        String id = jobId;
        StatusMessage last = null;
        StringBuilder data = new StringBuilder();
        try (InputStream in = entity.getContent()) {
            EventLines lines = new EventLines(in);
            for (String line; (line = lines.next()) != null; ) {
                if (line.isEmpty()) {
                    if (data.length() > 0) {
                        last = statusMessage(data.toString(), id);
                        id = last.id();
                        data.setLength(0);
                        listener.accept(last);
                        if (last.terminal()) {
                            return last;
                        }
                    }
                } else if (line.startsWith("data:")) {
                    if (data.length() > 0) {
                        data.append('\n');
                    }
                    data.append(line.startsWith("data: ") ? line.substring(6) : line.substring(5));
                } // ":" heartbeats and other fields carry nothing for us
            }
        } catch (SocketTimeoutException e) {
            throw new RemoteException("the server at " + url + " sent nothing about " + job(id) + " for "
                    + STREAM_TIMEOUT.toSeconds() + " s, not even a heartbeat: the server or the network is stuck. "
                    + "The job may still finish: ask again later" + lastStatus(last), e);
        }
        throw streamEnded(id, last);
    }

    private RemoteException streamEnded(String jobId, StatusMessage last) {
        return new RemoteException("the server at " + url + " ended the status stream of " + job(jobId)
                + " before the job finished: the server may have stopped or restarted" + lastStatus(last));
    }

    private static String job(String id) {
        return id == null ? "the job just submitted" : "job " + id;
    }

    private static String lastStatus(StatusMessage last) {
        return last == null ? "" : " (its last status was " + last.status() + ")";
    }

    private StatusMessage checkCompleted(StatusMessage terminal) {
        if (terminal.status() == JobStatus.ERROR) {
            throw new RemoteException("remote job " + terminal.id() + " failed: " + terminal.description());
        }
        return terminal;
    }

    /**
     * The lines of an event stream, read a buffer at a time (not a byte at a time through the connection's
     * layers), each at most {@link Protocol#MAX_EVENT_LINE_BYTES} long.
     */
    private final class EventLines {
        private final InputStream in;
        private final byte[] buffer = new byte[8192];
        private int start;
        private int end;
        /** The start of a line longer than what was left of the buffer; {@code null} while there is none. */
        private ByteArrayOutputStream pending;

        EventLines(InputStream in) {
            this.in = in;
        }

        /** The next line without its end ({@code \n} or {@code \r\n}); {@code null} at the end. */
        String next() throws IOException {
            while (true) {
                for (int i = start; i < end; i++) {
                    if (buffer[i] == '\n') {
                        String line = line(i);
                        start = i + 1;
                        return line;
                    }
                }
                keep(start, end);
                start = 0;
                end = in.read(buffer);
                if (end < 0) {
                    end = 0;
                    return pending == null || pending.size() == 0 ? null : line(0);
                }
            }
        }

        /** The pending bytes and the buffer's up to {@code stop}, as a line. */
        private String line(int stop) {
            String text;
            if (pending == null || pending.size() == 0) {
                checkLength(stop - start);
                text = new String(buffer, start, stop - start, StandardCharsets.UTF_8);
            } else {
                keep(start, stop);
                text = pending.toString(StandardCharsets.UTF_8);
                pending.reset();
            }
            return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
        }

        /** Moves the buffer's bytes {@code from} to {@code to} to the pending start of the line. */
        private void keep(int from, int to) {
            if (to > from) {
                if (pending == null) {
                    pending = new ByteArrayOutputStream(2 * buffer.length);
                }
                checkLength(pending.size() + to - from);
                pending.write(buffer, from, to - from);
            }
        }

        private void checkLength(int length) {
            if (length > Protocol.MAX_EVENT_LINE_BYTES) {
                throw new RemoteException("the server at " + url + " sent an event line longer than "
                        + Protocol.MAX_EVENT_LINE_BYTES + " bytes: is it an nnsight server?");
            }
        }
    }

    /** A job's latest status ({@code GET /response/{id}}), {@code ERROR} included. */
    public StatusMessage poll(String jobId) {
        String what = "asking for the status of job " + jobId;
        return execute(get(Protocol.RESPONSE + jobId, RESPONSE_TIMEOUT), what, response -> {
            expectOk(response, what);
            return statusMessage(readCapped(response.getEntity(), MAX_JSON_BYTES), jobId);
        });
    }

    /**
     * Downloads a completed job's result, which the server then forgets.
     *
     * @param maxBytes the most bytes the decompressed result may have
     * @return the result payload, decompressed
     */
    public byte[] download(String jobId, long maxBytes) {
        String what = "downloading the result of job " + jobId;
        byte[] compressed = execute(get(Protocol.RESULT + jobId, DOWNLOAD_TIMEOUT), what, response -> {
            expectOk(response, what);
            return readCapped(response.getEntity(), Zstd.compressBound(maxBytes));
        });
        return decompress(jobId, compressed, maxBytes);
    }

    /** A result payload of job {@code jobId}, decompressed, checked as every result is. */
    private byte[] decompress(String jobId, byte[] compressed, long maxBytes) {
        try {
            return Compression.decompress(compressed, maxBytes);
        } catch (Compression.TooLargeException e) {
            throw new RemoteException("the result of job " + jobId + " is larger than this client's limit of "
                    + maxBytes + " bytes", e);
        } catch (Compression.MalformedException e) {
            throw new RemoteException("the server at " + url + " sent a broken result for job " + jobId + ": "
                    + e.getMessage(), e);
        }
    }

    private HttpGet get(String path, Timeout responseTimeout) {
        HttpGet get = new HttpGet(url + path);
        headers(get);
        get.setConfig(config(responseTimeout, false));
        return get;
    }

    private void headers(HttpUriRequestBase request) {
        if (apiKey != null) {
            request.setHeader(Protocol.API_KEY_HEADER, apiKey);
        }
        request.setHeader(Protocol.VERSION_HEADER, Protocol.VERSION);
        request.setHeader(Protocol.JAVA_VERSION_HEADER, Integer.toString(Runtime.version().feature()));
    }

    private <T> T execute(HttpUriRequestBase request, String what, HttpClientResponseHandler<T> handler) {
        try {
            return client.execute(request, handler);
        } catch (ConnectException | ConnectTimeoutException | UnknownHostException | NoRouteToHostException e) {
            throw new RemoteException("cannot reach the nnsight server at " + url + " (" + e.getMessage()
                    + "): is `nnsight serve` running there, and is the URL right?", e);
        } catch (SocketTimeoutException e) {
            throw new RemoteException("the server at " + url + " did not answer within "
                    + request.getConfig().getResponseTimeout().toSeconds() + " s while " + what, e);
        } catch (IOException e) {
            throw new RemoteException("the connection to the server at " + url + " broke while " + what + " ("
                    + e.getMessage() + "): the server may have stopped", e);
        }
    }

    private void expectOk(ClassicHttpResponse response, String what) throws IOException {
        int code = response.getCode();
        if (code == 200) {
            return;
        }
        byte[] body = readCapped(response.getEntity(), MAX_JSON_BYTES);
        String text = new String(body, StandardCharsets.UTF_8);
        JsonObject error = null;
        try {
            JsonElement parsed = JsonParser.parseString(text);
            error = parsed.isJsonObject() ? parsed.getAsJsonObject() : null;
        } catch (RuntimeException notJson) {
            // a proxy's page, say: quoted below as text
        }
        String reason = error != null && error.has("error") ? error.get("error").getAsString() : abbreviate(text.trim());
        switch (code) {
            case 401:
                throw new RemoteException("the server at " + url + " refused the API key (" + reason
                        + "): set NNSIGHT_API_KEY or -Dnnsight.apiKey to a key the server accepts");
            case 409:
                if (error != null && error.has("serverVersion")) {
                    throw new RemoteException("nnsight versions do not match: this client is " + Protocol.VERSION
                            + ", the server at " + url + " is " + error.get("serverVersion").getAsString()
                            + "; client and server must share major and minor version");
                }
                throw new RemoteException("the server at " + url + " answered 409 while " + what + ": " + reason);
            case 413:
                throw new RemoteException("the server at " + url + " refused the request as too large: " + reason);
            default:
                throw new RemoteException("the server at " + url + " answered HTTP " + code + " while " + what + ": "
                        + reason);
        }
    }

    /** A 404 answer to a submission that lists the server's models: the model key is wrong. */
    private void unknownModel(ClassicHttpResponse response, String modelKey) throws IOException {
        byte[] body = readCapped(response.getEntity(), MAX_JSON_BYTES);
        JsonElement models = null;
        try {
            JsonElement parsed = JsonParser.parseString(new String(body, StandardCharsets.UTF_8));
            models = parsed.isJsonObject() ? parsed.getAsJsonObject().get("models") : null;
        } catch (RuntimeException notJson) {
            // not the server's answer: reported as an unexpected 404 below
        }
        if (models == null || !models.isJsonArray()) {
            throw new RemoteException("the server at " + url + " answered 404 to a submission: is it an nnsight server?");
        }
        List<String> keys = new ArrayList<>();
        models.getAsJsonArray().forEach(key -> keys.add(key.getAsString()));
        throw new RemoteException("the server at " + url + " hosts no model '" + modelKey + "'; it hosts: "
                + (keys.isEmpty() ? "no models" : String.join(", ", keys)));
    }

    private StatusMessage statusMessage(byte[] json, String expectedId) {
        return statusMessage(new String(json, StandardCharsets.UTF_8), expectedId);
    }

    private StatusMessage statusMessage(String json, String expectedId) {
        StatusMessage message;
        try {
            message = StatusMessage.fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new RemoteException("the server at " + url + " sent a malformed status (" + e.getMessage()
                    + "): is it an nnsight server of version " + Protocol.VERSION + "?", e);
        }
        if (expectedId != null && !expectedId.equals(message.id())) {
            throw new RemoteException("the server at " + url + " sent the status of job " + message.id()
                    + " when asked about job " + expectedId);
        }
        return message;
    }

    private JsonObject parseObject(byte[] json, String path) {
        try {
            JsonElement parsed = JsonParser.parseString(new String(json, StandardCharsets.UTF_8));
            if (parsed.isJsonObject()) {
                return parsed.getAsJsonObject();
            }
        } catch (RuntimeException e) {
            // reported below
        }
        throw new RemoteException("the server at " + url + " answered " + path + " with something other than a JSON "
                + "object: is it an nnsight server?");
    }

    /**
     * The body, refused past {@code maxBytes}: read straight into an array of its announced length when it has one,
     * else gathered in chunks.
     */
    private byte[] readCapped(HttpEntity entity, long maxBytes) throws IOException {
        if (entity == null) {
            return new byte[0];
        }
        long announced = entity.getContentLength();
        if (announced > maxBytes) {
            throw tooLong(maxBytes);
        }
        try (InputStream in = entity.getContent()) {
            if (announced >= 0) {
                byte[] body = new byte[(int) announced];
                int read = in.readNBytes(body, 0, body.length);
                if (read < body.length) {
                    throw new IOException("the body ended after " + read + " of its " + announced + " bytes");
                }
                return body;
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                if (out.size() + (long) n > maxBytes) {
                    throw tooLong(maxBytes);
                }
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        }
    }

    private RemoteException tooLong(long maxBytes) {
        return new RemoteException("the server at " + url + " sent more than " + maxBytes
                + " bytes where at most that many were expected");
    }

    private static String abbreviate(String text) {
        return text.length() <= 300 ? text : text.substring(0, 300) + "...";
    }

    /** Closes the pooled connections. */
    @Override
    public void close() {
        try {
            client.close();
        } catch (IOException e) {
            // nothing is left to release
        }
    }
}
