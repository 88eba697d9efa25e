package io.nnsight.remote.internal.http;

import com.github.luben.zstd.Zstd;
import com.google.gson.JsonObject;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
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
 *
 * <p>What the server answers is checked by {@code Answers} (refusals, bodies within their limits) and, for status
 * messages and event streams, by {@code StatusEvents}.
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
    static final int MAX_JSON_BYTES = 1 << 20;

    private final String url;
    private final String apiKey;
    private final CloseableHttpClient client;
    private final Answers answers;
    private final StatusEvents statuses;

    /**
     * A transport to the server at {@code baseUrl} ({@code http://host:8642}, or https, maybe with a path
     * prefix), sending {@code apiKey} with each request, or none when {@code null}.
     *
     * @throws IllegalArgumentException when {@code baseUrl} is not an http or https URL
     */
    public HttpTransport(String baseUrl, String apiKey) {
        this.url = normalize(baseUrl);
        this.apiKey = apiKey;
        this.answers = new Answers(url);
        this.statuses = new StatusEvents(url);
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
            answers.expectOk(response, "ping");
            return new String(answers.readCapped(response.getEntity(), MAX_JSON_BYTES), StandardCharsets.UTF_8).trim();
        });
        if (!"pong".equals(answer)) {
            throw new RemoteException("the server at " + url + " answered /ping with \"" + Answers.abbreviate(answer)
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
            answers.expectOk(response, what);
            return answers.parseObject(answers.readCapped(response.getEntity(), MAX_JSON_BYTES), path);
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
            answers.accepted(response, modelKey);
            return statuses.statusMessage(answers.readCapped(response.getEntity(), MAX_JSON_BYTES), null);
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
                answers.accepted(response, modelKey);
                if (!isEventStream(response)) {
                    // a server older than one-exchange jobs answers RECEIVED alone: the job is followed as it expects
                    StatusMessage received =
                            statuses.statusMessage(answers.readCapped(response.getEntity(), MAX_JSON_BYTES), null);
                    following.accept(received);
                    return received;
                }
                return statuses.readEvents(null, response.getEntity(), following);
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
        return result(StatusEvents.checkCompleted(last), inline, maxResultBytes);
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
            throw answers.tooLong(inline);
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
            answers.expectOk(response, what);
            return statuses.readEvents(jobId, response.getEntity(), listener);
        });
        return StatusEvents.checkCompleted(terminal);
    }


    /** A job's latest status ({@code GET /response/{id}}), {@code ERROR} included. */
    public StatusMessage poll(String jobId) {
        String what = "asking for the status of job " + jobId;
        return execute(get(Protocol.RESPONSE + jobId, RESPONSE_TIMEOUT), what, response -> {
            answers.expectOk(response, what);
            return statuses.statusMessage(answers.readCapped(response.getEntity(), MAX_JSON_BYTES), jobId);
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
            answers.expectOk(response, what);
            return answers.readCapped(response.getEntity(), Zstd.compressBound(maxBytes));
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
