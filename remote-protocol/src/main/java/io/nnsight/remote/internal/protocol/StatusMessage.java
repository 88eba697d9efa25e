package io.nnsight.remote.internal.protocol;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.Objects;

/**
 * One status of a job, as the server sends it: the answer to {@code POST /request} and {@code GET
 * /response/{id}}, and each event of {@code GET /stream/{id}}.
 *
 * <pre>{@code
 * {"id": "0c6f...", "status": "QUEUED", "position": 2, "time": 1764172800000}
 * }</pre>
 *
 * @param id the job's id (a random UUID)
 * @param status where the job is
 * @param description for {@code LOG} the printed line, for {@code ERROR} the reason; else {@code null} or a
 *     note for people
 * @param position for {@code QUEUED}, how many jobs run before this one (0 = next); else {@code null}
 * @param size for {@code COMPLETED}, the result's size in bytes, uncompressed; else {@code null}
 * @param time when the server set this status, in milliseconds since the epoch
 * @param result for {@code COMPLETED} on a stream that asked for it ({@link Protocol#INLINE_RESULT_HEADER}), the
 *     zstd result payload in base64 when it was small enough; else {@code null}: the result is downloaded
 */
public record StatusMessage(String id, JobStatus status, String description, Integer position, Long size, long time,
        String result) {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** Checks that the message has an id and a status. */
    public StatusMessage {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(status, "status");
    }

    /** A message of {@code status} for job {@code id}, with a description or {@code null}, stamped now. */
    public static StatusMessage of(String id, JobStatus status, String description) {
        return new StatusMessage(id, status, description, null, null, System.currentTimeMillis(), null);
    }

    /** {@code QUEUED} at {@code position}, stamped now. */
    public static StatusMessage queued(String id, int position) {
        return new StatusMessage(id, JobStatus.QUEUED, null, position, null, System.currentTimeMillis(), null);
    }

    /** {@code COMPLETED} with a result of {@code size} bytes, stamped now. */
    public static StatusMessage completed(String id, long size) {
        return new StatusMessage(id, JobStatus.COMPLETED, null, null, size, System.currentTimeMillis(), null);
    }

    /** This message with {@code compressedResult}, the job's zstd result payload, inline. */
    public StatusMessage withResult(byte[] compressedResult) {
        return new StatusMessage(id, status, description, position, size, time,
                Base64.getEncoder().encodeToString(compressedResult));
    }

    /**
     * The zstd result payload carried inline, or {@code null} when there is none.
     *
     * @throws IllegalArgumentException when {@link #result()} is not base64
     */
    public byte[] inlineResult() {
        return result == null ? null : Base64.getDecoder().decode(result);
    }

    /** Whether no status follows this one. */
    public boolean terminal() {
        return status.terminal();
    }

    /**
     * The message as one line of JSON, its fields in the order of the record's components, {@code null} fields left
     * out. Written field by field (a message goes out several times for each job), with Gson's escaping.
     */
    public String toJson() {
        StringWriter json = new StringWriter(result == null ? 128 : 128 + result.length());
        try (JsonWriter writer = new JsonWriter(json)) {
            writer.setHtmlSafe(false);
            writer.beginObject();
            writer.name("id").value(id);
            writer.name("status").value(status.name());
            if (description != null) {
                writer.name("description").value(description);
            }
            if (position != null) {
                writer.name("position").value(position.longValue());
            }
            if (size != null) {
                writer.name("size").value(size.longValue());
            }
            writer.name("time").value(time);
            if (result != null) {
                writer.name("result").value(result);
            }
            writer.endObject();
        } catch (IOException e) {
            throw new UncheckedIOException("a StringWriter does not fail", e);
        }
        return json.toString();
    }

    /**
     * Reads a message written by {@link #toJson()}.
     *
     * @throws IllegalArgumentException when {@code json} is not such a message (no JSON object, no id, an
     *     unknown status)
     */
    public static StatusMessage fromJson(String json) {
        StatusMessage message;
        try {
            message = GSON.fromJson(json, StatusMessage.class);
        } catch (RuntimeException e) { // Gson's JsonParseException, or the constructor's check of a missing field
            throw new IllegalArgumentException("not a status message: " + abbreviate(json), e);
        }
        if (message == null) {
            throw new IllegalArgumentException("not a status message: " + abbreviate(json));
        }
        return message;
    }

    private static String abbreviate(String text) {
        if (text == null) {
            return "null";
        }
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }
}
