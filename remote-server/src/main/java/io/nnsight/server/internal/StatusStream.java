package io.nnsight.server.internal;

import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job's status stream, as {@link HttpApi} answers {@code GET /stream/{id}} and a submission that asks for its
 * events: server-sent events ({@code text/event-stream}), one {@code data:} line of the status's JSON each, up to the
 * job's final status, which ends the answer. While the job has nothing new to say, a comment line every {@link
 * Protocol#HEARTBEAT} tells the client (and any proxy between) that the connection is alive; a client takes a stream
 * silent for four heartbeats for a lost connection.
 *
 * <pre>{@code
 * data: {"id":"0c6f...","status":"RECEIVED","time":1764172800000}
 *
 * data: {"id":"0c6f...","status":"QUEUED","position":2,"time":1764172800001}
 *
 * : heartbeat
 *
 * data: {"id":"0c6f...","status":"COMPLETED","size":1342,"time":1764172805000,"result":"KLUv/..."}
 *
 * }</pre>
 */
final class StatusStream {
    private static final Logger LOG = LoggerFactory.getLogger(StatusStream.class);
    private static final byte[] HEARTBEAT = ": heartbeat\n\n".getBytes(StandardCharsets.US_ASCII);
    /**
     * How long an event other than the final one may wait for the events after it, to go out with them in one
     * write: a job that moves on quickly costs one write (and one read on the client) instead of one per status,
     * and a progress display is at most this late. The final event never waits.
     */
    private static final long EVENT_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private StatusStream() {
    }

    /**
     * Sends the job's statuses from {@code events} (a {@link SubmittedJob#subscribe} queue) as server-sent events
     * up to the final one, each with those that follow it within {@link #EVENT_DELAY_NANOS} in one write, the final
     * one at once with the end of the answer. A {@code COMPLETED} event carries the compressed result when the job
     * kept it for this stream ({@link SubmittedJob#takeResult(BlockingQueue)}); if it is not written, the result goes
     * back to the job for a download.
     */
    static void send(SubmittedJob job, BlockingQueue<StatusMessage> events, Response response, Callback callback) {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, Protocol.EVENT_STREAM);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        response.getHeaders().put("X-Accel-Buffering", "no"); // tells proxies such as nginx not to buffer events
        long heartbeat = Protocol.HEARTBEAT.toMillis();
        byte[] unsent = null; // the result taken to send inline, until it is written
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
                    if (event.status() == JobStatus.COMPLETED) {
                        unsent = job.takeResult(events);
                        event = unsent == null ? event : event.withResult(unsent);
                    }
                    text.append("data: ").append(event.toJson()).append("\n\n");
                    terminal = event.terminal();
                    long wait = writeBy - System.nanoTime();
                    event = terminal ? null : wait > 0 ? events.poll(wait, TimeUnit.NANOSECONDS) : events.poll();
                }
                Content.Sink.write(response, terminal, ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8)));
                unsent = null;
            }
        } catch (IOException e) {
            LOG.debug("The status stream of job {} closed early: {}", job.id(), e.toString());
            callback.failed(e);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            callback.failed(e);
            return;
        } finally {
            if (unsent != null) {
                job.restoreResult(unsent);
            }
            job.unsubscribe(events);
        }
        callback.succeeded();
    }
}
