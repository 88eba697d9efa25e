package io.nnsight.server.internal;

import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One submitted job: its compressed request until it runs, its status and the streams that follow it, and
 * its compressed result until it is downloaded. Statuses only move forward: once the job is terminal
 * ({@code COMPLETED} or {@code ERROR}), later statuses are ignored, so whoever ends the job first (its
 * worker, the time-limit watchdog, the shutdown) decides how it ended.
 */
final class SubmittedJob {
    /** The most characters of {@code LOG} lines one job sends; later lines are dropped, with a note. */
    static final int MAX_LOG_CHARS = 1 << 20;
    /** The longest {@code LOG} line, in characters; longer lines are cut. */
    static final int MAX_LOG_LINE = 8_192;

    private final String id;
    private final String owner;
    private byte[] request;
    /** The request's size once decompressed, which bounds a batch ({@link ModelQueue}). */
    private final long requestBytes;
    /**
     * How many batches younger jobs ran in while this one waited (guarded by its queue's lock); the queue never
     * passes over a job overtaken as often as its fairness bound allows.
     */
    int overtaken;
    /**
     * Whether it joins a continuous batch of generations ({@link ModelQueue#runContinuously}), as its replicas said
     * when it was submitted; set before it is queued.
     */
    boolean continuous;
    /** The position in its queue it was last told ({@link ModelQueue}); under its queue's lock. */
    int position;
    private StatusMessage latest;
    /**
     * The streams following it, oldest first. The newest takes the result inline: it is the client's if the client
     * came back on a new stream after its first one broke (the server learns that a stream is dead only when it next
     * writes to it).
     */
    private final List<Subscriber> subscribers = new ArrayList<>();
    /**
     * The stream the result is kept for, to send inline ({@link #takeResult(BlockingQueue)}): the newest one when the
     * job completed (or a stream that came after), if the result fits its inline limit; a download finds none
     * meanwhile. {@code null}: the result is for a download.
     */
    private BlockingQueue<StatusMessage> resultStream;
    /** The {@code LOG} statuses so far, for streams that start late. */
    private final List<StatusMessage> logs = new ArrayList<>();
    private int logChars;
    private byte[] result;
    private long endedNanos;
    /** Whether the result was taken (downloaded), and when: the job is then kept only briefly ({@link JobStore}). */
    private boolean resultTaken;
    private long takenNanos;

    /**
     * A job, {@code RECEIVED} now.
     *
     * @param owner the API key that submitted it (empty for an anonymous server's clients without key)
     * @param request the request payload, compressed
     * @param requestBytes the request payload's size, decompressed
     */
    SubmittedJob(String id, String owner, byte[] request, long requestBytes) {
        this.id = id;
        this.owner = owner;
        this.request = request;
        this.requestBytes = requestBytes;
        this.latest = StatusMessage.of(id, JobStatus.RECEIVED, null);
    }

    String id() {
        return id;
    }

    String owner() {
        return owner;
    }

    /** The request payload's size, decompressed. */
    long requestBytes() {
        return requestBytes;
    }

    /** The compressed request, before a worker takes it; {@code null} after. */
    synchronized byte[] request() {
        return request;
    }

    /** The compressed request, handed over once to the worker that runs the job. */
    synchronized byte[] takeRequest() {
        byte[] taken = request;
        request = null;
        return taken;
    }

    /** The latest status other than {@code LOG}. */
    synchronized StatusMessage latest() {
        return latest;
    }

    synchronized boolean terminal() {
        return latest.terminal();
    }

    /** A stream following the job: its queue of statuses, and the most bytes of result it takes inline. */
    private record Subscriber(BlockingQueue<StatusMessage> queue, long inline) {}

    /**
     * A queue that receives the job's statuses: now the latest one with the {@code LOG} lines so far (after
     * it, or before it if it is the final status), then every later one up to the final status. It is the job's
     * newest stream: the result is kept for it to send inline if it has at most {@code inline} bytes when the job
     * completes (now, if it has), and no stream or download took it first.
     */
    synchronized BlockingQueue<StatusMessage> subscribe(long inline) {
        BlockingQueue<StatusMessage> queue = new LinkedBlockingQueue<>();
        if (latest.terminal()) {
            queue.addAll(logs);
            queue.add(latest);
            keepResultFor(queue, inline);
        } else {
            queue.add(latest);
            queue.addAll(logs);
            subscribers.add(new Subscriber(queue, inline));
        }
        return queue;
    }

    /** Ends the stream of {@code queue}: it gets no more statuses, and a result kept for it is left for a download. */
    synchronized void unsubscribe(BlockingQueue<StatusMessage> queue) {
        subscribers.removeIf(subscriber -> subscriber.queue == queue);
        if (resultStream == queue) {
            resultStream = null;
        }
    }

    /** Keeps the result for {@code stream} if it has at most {@code inline} bytes, else for a download. */
    private void keepResultFor(BlockingQueue<StatusMessage> stream, long inline) {
        resultStream = result != null && result.length <= inline ? stream : null;
    }

    /** Publishes a status unless the job has ended; {@code false} if it had. */
    synchronized boolean publish(StatusMessage message) {
        if (latest.terminal()) {
            return false;
        }
        if (message.status() == JobStatus.LOG) {
            logs.add(message);
        } else {
            latest = message;
        }
        for (Subscriber subscriber : subscribers) {
            subscriber.queue.add(message);
        }
        if (message.terminal()) {
            subscribers.clear();
            request = null;
            endedNanos = System.nanoTime();
        }
        return true;
    }

    /**
     * Sends a line the job's code printed, cut at {@link #MAX_LOG_LINE} characters; past {@link
     * #MAX_LOG_CHARS} in all, the job's lines are dropped, with a note.
     */
    synchronized void log(String line) {
        if (logChars > MAX_LOG_CHARS) {
            return;
        }
        String text = line == null ? "" : line;
        if (text.length() > MAX_LOG_LINE) {
            text = text.substring(0, MAX_LOG_LINE) + " [cut at " + MAX_LOG_LINE + " characters]";
        }
        logChars += text.length() + 1;
        if (logChars > MAX_LOG_CHARS) {
            text = "[nnsight: the job printed more than " + MAX_LOG_CHARS + " characters; the rest is dropped]";
        }
        publish(StatusMessage.of(id, JobStatus.LOG, text));
    }

    /** Ends the job with {@code ERROR}; {@code false} if it had ended already. */
    synchronized boolean fail(String reason) {
        return publish(StatusMessage.of(id, JobStatus.ERROR, reason));
    }

    /**
     * Ends the job with {@code COMPLETED} and keeps its result; {@code false} (and nothing kept) if it had
     * ended already.
     */
    synchronized boolean complete(byte[] compressedResult, long size) {
        if (latest.terminal()) {
            return false;
        }
        result = compressedResult;
        if (!subscribers.isEmpty()) {
            Subscriber newest = subscribers.get(subscribers.size() - 1);
            keepResultFor(newest.queue, newest.inline);
        }
        return publish(StatusMessage.completed(id, size));
    }

    /**
     * The compressed result, removed from the job, for a download; {@code null} if there is none (any more), or it is
     * kept for a stream to send inline.
     */
    synchronized byte[] takeResult() {
        return resultStream == null ? take() : null;
    }

    /**
     * The compressed result, removed from the job, if it is kept for {@code stream} to send inline; else {@code null}.
     */
    synchronized byte[] takeResult(BlockingQueue<StatusMessage> stream) {
        if (resultStream != stream) {
            return null;
        }
        resultStream = null;
        return take();
    }

    private byte[] take() {
        byte[] taken = result;
        result = null;
        if (taken != null) {
            resultTaken = true;
            takenNanos = System.nanoTime();
        }
        return taken;
    }

    /** Puts back a result whose download or inline sending failed, so the client can download it. */
    synchronized void restoreResult(byte[] compressedResult) {
        if (result == null) {
            result = compressedResult;
            resultTaken = false;
        }
    }

    /**
     * Whether the job ended at least {@code ttlNanos} before {@code nowNanos}, or its result was taken at least {@code
     * takenTtlNanos} before.
     */
    synchronized boolean expired(long nowNanos, long ttlNanos, long takenTtlNanos) {
        return latest.terminal()
                && (resultTaken ? nowNanos - takenNanos >= takenTtlNanos : nowNanos - endedNanos >= ttlNanos);
    }
}
