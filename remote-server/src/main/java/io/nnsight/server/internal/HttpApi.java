package io.nnsight.server.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The endpoints of {@code docs/remote.md} as a Jetty handler. Handlers block (reading a request body,
 * following a job's status), so Jetty runs them on its pool's threads, virtual ones where the JDK has them.
 *
 * <p>Every refusal is a JSON object {@code {"error": "..."}} with a status code, never a stack trace:
 * {@code 400} malformed, {@code 401} API key, {@code 404} unknown endpoint, model or job (a job of another
 * API key is unknown too), {@code 405} method, {@code 409} incompatible versions or no result yet, {@code
 * 408} a request body that came too slowly, {@code 413} too large, {@code 503} the model or the server takes no
 * jobs now, or the API key has as many jobs queued as one key may.
 * A submission that asks for the job's events ({@code Accept: text/event-stream}) is refused the same way, before
 * any event; once accepted, it is answered with the job's event stream, as {@code GET /stream/{id}} is.
 */
public final class HttpApi extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    /** How much of an oversized body is read and dropped, so that the client reads the 413 before a reset. */
    private static final long DRAIN_LIMIT = 16L << 20;
    /** A Java feature version, as the client sends it. */
    private static final Pattern JAVA_FEATURE = Pattern.compile("\\d{1,4}");
    /** A byte count, as the client sends its inline limit. */
    private static final Pattern BYTE_COUNT = Pattern.compile("\\d{1,18}");
    private static final byte[] HEARTBEAT = ": heartbeat\n\n".getBytes(StandardCharsets.US_ASCII);
    /**
     * How long an event other than the final one may wait for the events after it, to go out with them in one
     * write: a job that moves on quickly costs one write (and one read on the client) instead of one per status,
     * and a progress display is at most this late. The final event never waits.
     */
    private static final long EVENT_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final Map<String, ModelQueue> models;
    private final JobStore jobs;
    /** The accepted keys by their SHA-256 digests, compared in constant time; empty: anonymous use. */
    private final Map<ByteBuffer, String> apiKeys;
    private final Limits limits;
    private final String env;

    /**
     * The endpoints over these models and jobs.
     *
     * @param models the hosted models by key, in the order the server lists them
     * @param apiKeys the accepted keys; empty: every caller is served (the server allows anonymous use)
     * @param env the answer of {@code /env}
     */
    public HttpApi(Map<String, ModelQueue> models, JobStore jobs, Set<String> apiKeys, Limits limits, JsonObject env) {
        super(InvocationType.BLOCKING);
        this.models = models;
        this.jobs = jobs;
        this.apiKeys = new LinkedHashMap<>();
        apiKeys.forEach(key -> this.apiKeys.put(ByteBuffer.wrap(digest(key)), key));
        this.limits = limits;
        this.env = env.toString();
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        try {
            route(path, request, response, callback);
        } catch (Refusal refusal) {
            drainUnread(request);
            send(response, callback, refusal.status, "application/json", refusal.body.toString());
        } catch (RuntimeException e) {
            LOG.error("{} {} failed in the server", request.getMethod(), path, e);
            if (response.isCommitted()) {
                callback.failed(e);
            } else {
                send(response, callback, 500, "application/json",
                        error("the server failed while answering: " + e.getClass().getSimpleName()).toString());
            }
        }
        return true;
    }

    private void route(String path, Request request, Response response, Callback callback) throws Refusal {
        if (path.equals(Protocol.PING)) {
            method(request, "GET");
            send(response, callback, 200, "text/plain; charset=utf-8", "pong");
        } else if (path.equals(Protocol.ENV)) {
            method(request, "GET");
            send(response, callback, 200, "application/json", env);
        } else if (path.equals(Protocol.STATUS)) {
            method(request, "GET");
            send(response, callback, 200, "application/json", status());
        } else if (path.equals(Protocol.REQUEST)) {
            method(request, "POST");
            submit(request, response, callback);
        } else if (path.startsWith(Protocol.STREAM)) {
            method(request, "GET");
            SubmittedJob job = job(request, path.substring(Protocol.STREAM.length()));
            stream(job, job.subscribe(), inlineLimit(request), response, callback);
        } else if (path.startsWith(Protocol.RESPONSE)) {
            method(request, "GET");
            SubmittedJob job = job(request, path.substring(Protocol.RESPONSE.length()));
            send(response, callback, 200, "application/json", job.latest().toJson());
        } else if (path.startsWith(Protocol.RESULT)) {
            method(request, "GET");
            result(job(request, path.substring(Protocol.RESULT.length())), response, callback);
        } else {
            throw new Refusal(404, "no endpoint " + abbreviate(path) + "; the endpoints are " + Protocol.PING + ", "
                    + Protocol.ENV + ", " + Protocol.STATUS + ", " + Protocol.REQUEST + ", " + Protocol.STREAM + "{id}, "
                    + Protocol.RESPONSE + "{id} and " + Protocol.RESULT + "{id}");
        }
    }

    private static void method(Request request, String expected) throws Refusal {
        if (!request.getMethod().equals(expected)) {
            throw new Refusal(405, "use " + expected + " for " + Request.getPathInContext(request) + ", not "
                    + request.getMethod());
        }
    }

    private String status() {
        JsonArray list = new JsonArray();
        models.values().forEach(queue -> list.add(queue.status()));
        JsonObject status = new JsonObject();
        status.add("models", list);
        return status.toString();
    }

    /** The API key of the request, which owns the jobs it submits. */
    private String authenticate(Request request) throws Refusal {
        String key = request.getHeaders().get(Protocol.API_KEY_HEADER);
        if (apiKeys.isEmpty()) {
            return key == null ? "" : key;
        }
        if (key == null || key.isEmpty()) {
            throw new Refusal(401, "missing API key: send it in header " + Protocol.API_KEY_HEADER);
        }
        String known = known(key);
        if (known == null) {
            throw new Refusal(401, "unknown API key");
        }
        return known;
    }

    /**
     * The accepted key equal to {@code key}, or {@code null}: compared with every accepted key, digest against
     * digest in constant time, so that how long it takes says nothing about how close a guess was.
     */
    private String known(String key) {
        byte[] digest = digest(key);
        String found = null;
        for (Map.Entry<ByteBuffer, String> accepted : apiKeys.entrySet()) {
            if (MessageDigest.isEqual(accepted.getKey().array(), digest)) {
                found = accepted.getValue();
            }
        }
        return found;
    }

    private static byte[] digest(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every Java has SHA-256", e);
        }
    }

    private SubmittedJob job(Request request, String id) throws Refusal {
        String owner = authenticate(request);
        SubmittedJob job = isUuid(id) ? jobs.find(id, owner) : null;
        if (job == null) {
            // The same answer whether the job does not exist or belongs to another key.
            boolean downloadedSooner = limits.resultTtl().compareTo(JobStore.DOWNLOADED_TTL) > 0;
            throw new Refusal(404, "no job " + abbreviate(id) + " for this API key: the id is unknown, or the job ended "
                    + "more than " + ModelQueue.describe(limits.resultTtl()) + " ago" + (downloadedSooner
                    ? ", or its result was downloaded more than " + ModelQueue.describe(JobStore.DOWNLOADED_TTL) + " ago"
                    : ""));
        }
        return job;
    }

    private static boolean isUuid(String id) {
        try {
            return UUID.fromString(id).toString().equals(id);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private void submit(Request request, Response response, Callback callback) throws Refusal {
        String owner = authenticate(request);
        String version = header(request, Protocol.VERSION_HEADER, "the client's nnsight version");
        if (!Protocol.compatible(version, Protocol.VERSION)) {
            Refusal refusal = new Refusal(409, "the client's nnsight " + abbreviate(version) + " cannot work with the server's "
                    + Protocol.VERSION + ": both must share major and minor version");
            refusal.body.addProperty("serverVersion", Protocol.VERSION);
            throw refusal;
        }
        String java = header(request, Protocol.JAVA_VERSION_HEADER, "the client's Java feature version, such as 21");
        if (!JAVA_FEATURE.matcher(java).matches()) {
            throw new Refusal(400, "malformed header " + Protocol.JAVA_VERSION_HEADER + ": '" + abbreviate(java)
                    + "' (expected the client's Java feature version, such as 21)");
        }
        String modelKey = header(request, Protocol.MODEL_KEY_HEADER, "the model to run on; this server hosts "
                + String.join(", ", models.keySet()));
        ModelQueue queue = models.get(modelKey);
        if (queue == null) {
            Refusal refusal = new Refusal(404, "no model '" + abbreviate(modelKey) + "' on this server; it hosts "
                    + String.join(", ", models.keySet()));
            JsonArray keys = new JsonArray();
            models.keySet().forEach(keys::add);
            refusal.body.add("models", keys);
            throw refusal;
        }
        boolean follow = request.getHeaders().contains(HttpHeader.ACCEPT, Protocol.EVENT_STREAM);
        long inline = inlineLimit(request);
        byte[] body = readBody(request);
        long decompressed;
        try {
            decompressed = Compression.decompressedSize(body, limits.maxDecompressedRequestBytes());
        } catch (Compression.TooLargeException e) {
            throw new Refusal(413, "request too large: it decompresses to more than "
                    + limits.maxDecompressedRequestBytes() + " bytes, the limit");
        } catch (Compression.MalformedException e) {
            throw new Refusal(400, "malformed request: " + e.getMessage());
        }
        SubmittedJob job = new SubmittedJob(UUID.randomUUID().toString(), owner, body, decompressed);
        StatusMessage received = job.latest();
        // subscribed before it is queued, so that its stream starts with RECEIVED
        BlockingQueue<StatusMessage> events = follow ? job.subscribe() : null;
        jobs.add(job);
        String refused = queue.submit(job);
        if (refused != null) {
            if (events != null) {
                job.unsubscribe(events);
            }
            jobs.remove(job);
            throw new Refusal(503, refused);
        }
        LOG.debug("Job {} received for model '{}' ({} bytes)", job.id(), modelKey, body.length);
        if (follow) {
            stream(job, events, inline, response, callback);
        } else {
            send(response, callback, 200, "application/json", received.toJson());
        }
    }

    /**
     * The most bytes of compressed result the client takes inline ({@link Protocol#INLINE_RESULT_HEADER}), at most
     * {@link Protocol#MAX_INLINE_RESULT_BYTES}; 0 without the header.
     */
    private static long inlineLimit(Request request) throws Refusal {
        String value = request.getHeaders().get(Protocol.INLINE_RESULT_HEADER);
        if (value == null) {
            return 0;
        }
        String count = value.trim();
        if (!BYTE_COUNT.matcher(count).matches()) {
            throw new Refusal(400, "malformed header " + Protocol.INLINE_RESULT_HEADER + ": '" + abbreviate(value)
                    + "' (expected the most bytes of compressed result to take inline, such as "
                    + Protocol.MAX_INLINE_RESULT_BYTES + ")");
        }
        return Math.min(Long.parseLong(count), Protocol.MAX_INLINE_RESULT_BYTES);
    }

    private static String header(Request request, String name, String meaning) throws Refusal {
        String value = request.getHeaders().get(name);
        if (value == null || value.isBlank()) {
            throw new Refusal(400, "missing header " + name + ": " + meaning);
        }
        return value.trim();
    }

    /**
     * The body, at most {@code maxRequestBytes}, whether or not the request announced its length. It must keep
     * coming: a pause of {@link Limits#UPLOAD_GRACE}, or a rate below {@code minUploadRate} after that, ends it. The
     * connection's idle timeout is shortened to that pause only when the handler has to wait for bytes: a body that
     * has arrived whole is taken without touching it.
     */
    private byte[] readBody(Request request) throws Refusal {
        long max = limits.maxRequestBytes();
        long announced = request.getLength();
        EndPoint connection = request.getConnectionMetaData().getConnection().getEndPoint();
        long idleTimeout = connection.getIdleTimeout();
        if (announced > max) {
            throw tooLarge(announced + " bytes");
        }
        byte[] body = new byte[announced >= 0 ? (int) announced : 8192];
        int size = 0;
        boolean waited = false;
        long start = System.nanoTime();
        try {
            while (true) {
                Content.Chunk chunk = request.read();
                if (chunk == null) {
                    waited = shortenIdleTimeout(connection, waited);
                    awaitContent(request);
                    continue;
                }
                if (Content.Chunk.isFailure(chunk)) {
                    Throwable failure = chunk.getFailure();
                    if (failure instanceof TimeoutException || failure.getCause() instanceof TimeoutException) {
                        throw tooSlow(size, start);
                    }
                    throw new Refusal(400, "could not read the request body: " + failure.getMessage());
                }
                ByteBuffer bytes = chunk.getByteBuffer();
                int n = bytes.remaining();
                if (size + (long) n > max) {
                    chunk.release();
                    waited = shortenIdleTimeout(connection, waited);
                    drain(request);
                    throw tooLarge("more than " + max + " bytes");
                }
                if (size + n > body.length) {
                    body = Arrays.copyOf(body, (int) Math.min(max, Math.max(2L * body.length, size + (long) n)));
                }
                bytes.get(body, size, n);
                size += n;
                boolean last = chunk.isLast();
                chunk.release();
                double late = (System.nanoTime() - start) / 1e9 - Limits.UPLOAD_GRACE.toSeconds();
                if (n > 0 && late > 0 && size < limits.minUploadRate() * late) {
                    throw tooSlow(size, start);
                }
                if (last) {
                    break;
                }
            }
        } catch (IOException e) {
            if (e.getCause() instanceof TimeoutException) {
                throw tooSlow(size, start);
            }
            throw new Refusal(400, "could not read the request body: " + e.getMessage());
        } finally {
            if (waited) {
                connection.setIdleTimeout(idleTimeout);
            }
        }
        return size == body.length ? body : Arrays.copyOf(body, size);
    }

    /** Shortens the idle timeout to {@link Limits#UPLOAD_GRACE} unless that was done already; returns {@code true}. */
    private static boolean shortenIdleTimeout(EndPoint connection, boolean done) {
        if (!done) {
            connection.setIdleTimeout(Limits.UPLOAD_GRACE.toMillis());
        }
        return true;
    }

    /** Waits until the request has more content, its end or a failure to read. */
    private static void awaitContent(Request request) throws IOException {
        try (Blocker.Runnable more = Blocker.runnable()) {
            request.demand(more);
            more.block();
        }
    }

    private Refusal tooSlow(long received, long start) {
        return new Refusal(408, String.format(Locale.ROOT, "the request body came too slowly: %d bytes in %.1f s; the "
                + "server waits at most %d s for the next bytes and needs %d bytes/s after the first %d s", received,
                (System.nanoTime() - start) / 1e9, Limits.UPLOAD_GRACE.toSeconds(), limits.minUploadRate(),
                Limits.UPLOAD_GRACE.toSeconds()));
    }

    private Refusal tooLarge(String size) {
        return new Refusal(413, "request too large: " + size + ", limit " + limits.maxRequestBytes() + " bytes (compressed)");
    }

    /**
     * Before a refusal: reads off what is left of a body of at most {@link #DRAIN_LIMIT} bytes that the client sends
     * without waiting for the go-ahead (no {@code Expect: 100-continue}: small bodies), within the upload's grace.
     * The client is still writing it: unread, Jetty would close the connection under it, and the client would see a
     * broken pipe instead of the answer, or on its next request over that pooled connection.
     */
    private static void drainUnread(Request request) {
        long announced = request.getLength();
        if (announced == 0 || announced > DRAIN_LIMIT || request.getHeaders().contains(HttpHeader.EXPECT, "100-continue")) {
            return;
        }
        EndPoint connection = request.getConnectionMetaData().getConnection().getEndPoint();
        long idleTimeout = connection.getIdleTimeout();
        shortenIdleTimeout(connection, false);
        try {
            drain(request);
        } finally {
            connection.setIdleTimeout(idleTimeout);
        }
    }

    /** Reads and drops up to {@link #DRAIN_LIMIT} more bytes of the body, or until it ends or fails. */
    private static void drain(Request request) {
        try {
            for (long drained = 0; drained < DRAIN_LIMIT; ) {
                Content.Chunk chunk = request.read();
                if (chunk == null) {
                    awaitContent(request);
                    continue;
                }
                if (Content.Chunk.isFailure(chunk)) {
                    return;
                }
                drained += chunk.remaining();
                boolean last = chunk.isLast();
                chunk.release();
                if (last) {
                    return;
                }
            }
        } catch (IOException e) {
            // the connection closes after the answer anyway
        }
    }

    /**
     * Sends the job's statuses from {@code events} (a {@link SubmittedJob#subscribe()} queue) as server-sent events
     * up to the final one, each with those that follow it within {@link #EVENT_DELAY_NANOS} in one write, the final
     * one at once with the end of the answer. A
     * {@code COMPLETED} event carries the compressed result when it has at most {@code inline} bytes and this is the
     * job's newest stream (a client that lost its stream comes back on a new one, while the server may not yet know
     * the old one is dead); that takes the result, and puts it back if the event cannot be written.
     */
    private void stream(SubmittedJob job, BlockingQueue<StatusMessage> events, long inline, Response response,
            Callback callback) {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, Protocol.EVENT_STREAM);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        response.getHeaders().put("X-Accel-Buffering", "no"); // tells proxies such as nginx not to buffer events
        long heartbeat = Protocol.HEARTBEAT.toMillis();
        byte[] inlined = null;
        try {
            boolean terminal = false;
            while (!terminal) {
                StatusMessage event = events.poll(heartbeat, TimeUnit.MILLISECONDS);
                if (event == null) {
                    Content.Sink.write(response, false, ByteBuffer.wrap(HEARTBEAT));
                    continue;
                }
                StringBuilder text = new StringBuilder();
                long writeBy = System.nanoTime() + EVENT_DELAY_NANOS;
                while (event != null) {
                    if (event.status() == JobStatus.COMPLETED && inline > 0) {
                        inlined = job.takeResult(inline, events);
                        event = inlined == null ? event : event.withResult(inlined);
                    }
                    text.append("data: ").append(event.toJson()).append("\n\n");
                    terminal = event.terminal();
                    long wait = writeBy - System.nanoTime();
                    event = terminal ? null : wait > 0 ? events.poll(wait, TimeUnit.NANOSECONDS) : events.poll();
                }
                Content.Sink.write(response, terminal, ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8)));
            }
        } catch (IOException e) {
            LOG.debug("The status stream of job {} closed early: {}", job.id(), e.toString());
            if (inlined != null) {
                job.restoreResult(inlined);
            }
            callback.failed(e);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            callback.failed(e);
            return;
        } finally {
            job.unsubscribe(events);
        }
        callback.succeeded();
    }

    private void result(SubmittedJob job, Response response, Callback callback) throws Refusal {
        StatusMessage latest = job.latest();
        if (latest.status() != JobStatus.COMPLETED) {
            String reason = latest.status() == JobStatus.ERROR ? ": " + latest.description() : "";
            throw new Refusal(409, "job " + job.id() + " has no result: it is " + latest.status() + reason);
        }
        byte[] result = job.takeResult();
        if (result == null) {
            throw new Refusal(404, "the result of job " + job.id() + " was downloaded already");
        }
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/octet-stream");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, result.length);
        response.write(true, ByteBuffer.wrap(result), Callback.from(callback::succeeded, failure -> {
            job.restoreResult(result);
            callback.failed(failure);
        }));
    }

    private static void send(Response response, Callback callback, int status, String contentType, String body) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        response.write(true, ByteBuffer.wrap(bytes), callback);
    }

    static JsonObject error(String message) {
        JsonObject error = new JsonObject();
        error.addProperty("error", message);
        return error;
    }

    private static String abbreviate(String text) {
        return text.length() <= 100 ? text : text.substring(0, 100) + "...";
    }

    /** A request refused with an HTTP status and a JSON body {@code {"error": "..."}}, perhaps with more. */
    private static final class Refusal extends Exception {
        private static final long serialVersionUID = 1L;

        final int status;
        final transient JsonObject body;

        Refusal(int status, String message) {
            super(message, null, false, false);
            this.status = status;
            this.body = error(message);
        }
    }
}
