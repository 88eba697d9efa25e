package io.nnsight.server.internal;

import com.google.gson.JsonObject;

/**
 * A request refused with an HTTP status and a JSON body {@code {"error": "..."}}, perhaps with more: thrown by the
 * parts of {@link HttpApi} that check a request, and answered by {@link HttpApi#handle} (after reading off what is
 * left of the request's body, {@link RequestBodies#drainUnread}). Its message says what was wrong and what to do.
 *
 * <pre>{@code
 * throw new Refusal(405, "use GET for /status, not POST");     // 405 {"error": "use GET for /status, not POST"}
 *
 * Refusal refusal = new Refusal(409, "the client's nnsight ... cannot work with the server's ...");
 * refusal.body.addProperty("serverVersion", Protocol.VERSION);  // 409 {"error": "...", "serverVersion": "..."}
 * throw refusal;
 * }</pre>
 */
final class Refusal extends Exception {
    private static final long serialVersionUID = 1L;

    final int status;
    final transient JsonObject body;

    Refusal(int status, String message) {
        super(message, null, false, false);
        this.status = status;
        this.body = HttpApi.error(message);
    }
}
