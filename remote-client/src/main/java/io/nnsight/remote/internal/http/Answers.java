package io.nnsight.remote.internal.http;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.protocol.Protocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.HttpEntity;

/**
 * What a server answers {@link HttpTransport}, checked before the client believes it: a body is read up to a limit
 * the caller sets (a broken or hostile server cannot make the client hold more than it expects, whatever length it
 * announces), a refusal (any status but 200) becomes a {@link RemoteException} that says what was refused and what
 * to do, and an answer that is not what an nnsight server sends asks whether the URL is one.
 *
 * <pre>{@code
 * answers.expectOk(response, "asking for /env");
 * JsonObject env = answers.parseObject(answers.readCapped(response.getEntity(), HttpTransport.MAX_JSON_BYTES), "/env");
 * }</pre>
 */
final class Answers {
    private final String url;

    /** The answers of the server at {@code url}, which the errors name. */
    Answers(String url) {
        this.url = url;
    }

    /**
     * Throws the server's refusal, unless it answered 200: with the reason from its JSON error ({@code {"error":
     * "..."}}), or the start of whatever else it sent (a proxy's page, say), and for a refused API key (401), an
     * incompatible version (409) or a request too large (413), what to do about it.
     *
     * @param what what the client was doing, for the message: "downloading the result of job ..."
     */
    void expectOk(ClassicHttpResponse response, String what) throws IOException {
        int code = response.getCode();
        if (code == 200) {
            return;
        }
        byte[] body = readCapped(response.getEntity(), HttpTransport.MAX_JSON_BYTES);
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

    /** Throws the server's refusal of a submission, if it refused. */
    void accepted(ClassicHttpResponse response, String modelKey) throws IOException {
        if (response.getCode() == 404) {
            unknownModel(response, modelKey);
        }
        expectOk(response, "submitting a job for model '" + modelKey + "'");
    }

    /** A 404 answer to a submission that lists the server's models: the model key is wrong. */
    private void unknownModel(ClassicHttpResponse response, String modelKey) throws IOException {
        byte[] body = readCapped(response.getEntity(), HttpTransport.MAX_JSON_BYTES);
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

    /** The JSON object the server answered to {@code path}; anything else is refused. */
    JsonObject parseObject(byte[] json, String path) {
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
    byte[] readCapped(HttpEntity entity, long maxBytes) throws IOException {
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

    /** The error for an answer longer than the {@code maxBytes} the client takes. */
    RemoteException tooLong(long maxBytes) {
        return new RemoteException("the server at " + url + " sent more than " + maxBytes
                + " bytes where at most that many were expected");
    }

    /** The text, cut after 300 characters to quote it in a message. */
    static String abbreviate(String text) {
        return text.length() <= 300 ? text : text.substring(0, 300) + "...";
    }
}
