package io.nnsight.server.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
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
 *
 * <p>Request bodies are read within the server's limits by {@code RequestBodies}; event streams are written by
 * {@code StatusStream}.
 */
public final class HttpApi extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    /** A Java feature version, as the client sends it. */
    private static final Pattern JAVA_FEATURE = Pattern.compile("\\d{1,4}");
    /** A byte count, as the client sends its inline limit. */
    private static final Pattern BYTE_COUNT = Pattern.compile("\\d{1,18}");

    private final Map<String, ModelQueue> models;
    private final JobStore jobs;
    /** The accepted keys by their SHA-256 digests, compared in constant time; empty: anonymous use. */
    private final Map<ByteBuffer, String> apiKeys;
    private final Limits limits;
    private final RequestBodies bodies;
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
        this.bodies = new RequestBodies(limits);
        this.env = env.toString();
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        try {
            route(path, request, response, callback);
        } catch (Refusal refusal) {
            RequestBodies.drainUnread(request);
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
            StatusStream.send(job, job.subscribe(inlineLimit(request)), response, callback);
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
        byte[] body = bodies.read(request);
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
        BlockingQueue<StatusMessage> events = follow ? job.subscribe(inline) : null;
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
            StatusStream.send(job, events, response, callback);
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
}
