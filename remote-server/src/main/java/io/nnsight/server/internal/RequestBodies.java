package io.nnsight.server.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Blocker;

/**
 * Reads the bodies of requests for {@link HttpApi} within the server's {@link Limits}: a body larger than {@link
 * Limits#maxRequestBytes()} is refused with 413 as soon as it is known to be (by its announced length, else by the
 * bytes that came), and one that comes too slowly (a client that holds a handler thread with a trickle) with 408. A
 * refused body is read off, up to {@link #DRAIN_LIMIT} bytes, so that the client reads the answer instead of a
 * broken pipe.
 *
 * <pre>{@code
 * RequestBodies bodies = new RequestBodies(limits);
 * byte[] body = bodies.read(request);          // or a Refusal: 413 too large, 408 too slow, 400 unreadable
 * ...
 * RequestBodies.drainUnread(request);          // before any refusal, so that the client reads it
 * }</pre>
 */
final class RequestBodies {
    /** How much of an oversized body is read and dropped, so that the client reads the 413 before a reset. */
    private static final long DRAIN_LIMIT = 16L << 20;

    private final Limits limits;

    /** Bodies of at most {@code limits.maxRequestBytes()}, coming at least at {@code limits.minUploadRate()}. */
    RequestBodies(Limits limits) {
        this.limits = limits;
    }

    /**
     * The body, at most {@link Limits#maxRequestBytes()}, whether or not the request announced its length. It must
     * keep coming: a pause of {@link Limits#UPLOAD_GRACE}, or a rate below {@link Limits#minUploadRate()} after that,
     * ends it. The connection's idle timeout is shortened to that pause only when the handler has to wait for bytes:
     * a body that has arrived whole is taken without touching it.
     */
    byte[] read(Request request) throws Refusal {
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
    static void drainUnread(Request request) {
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
}
