package io.nnsight.remote.internal.http;

import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import org.apache.hc.core5.http.HttpEntity;

/**
 * The status messages a server sends {@link HttpTransport}: one in a JSON answer, or a job's in a server-sent event
 * stream ({@code text/event-stream}, {@code docs/remote.md}), each checked as it arrives. A stream is read up to the
 * job's final status: an event is its {@code data:} lines up to an empty line; heartbeats ({@code :} lines) and other
 * fields carry nothing for the client. Every failure is a {@link RemoteException} that names the server and the job:
 * a malformed status, the status of another job, a line too long, a stream that ends before the job finished or
 * stays silent for four heartbeats ({@link HttpTransport#STREAM_TIMEOUT}, the socket's timeout).
 *
 * <pre>{@code
 * data: {"id":"0c6f...","status":"QUEUED","position":2,"time":1764172800000}
 *
 * : heartbeat
 *
 * data: {"id":"0c6f...","status":"COMPLETED","size":1342,"time":1764172805000,"result":"KLUv/..."}
 *
 * }</pre>
 */
final class StatusEvents {
    private final String url;

    /** The status messages of the server at {@code url}, which the errors name. */
    StatusEvents(String url) {
        this.url = url;
    }

    /**
     * The events of a stream up to the final status, each handed to {@code listener} as it arrives.
     *
     * @param jobId the job the stream is about, or {@code null} for the answer to a submission: the job its first
     *     event names
     * @return the final status, {@code ERROR} included
     */
    StatusMessage readEvents(String jobId, HttpEntity entity, Consumer<StatusMessage> listener) throws IOException {
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
                    + HttpTransport.STREAM_TIMEOUT.toSeconds() + " s, not even a heartbeat: the server or the network "
                    + "is stuck. The job may still finish: ask again later" + lastStatus(last), e);
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

    /**
     * The final status {@code terminal}, when it is {@code COMPLETED}.
     *
     * @throws RemoteException when the job ended in {@code ERROR}, with the server's description
     */
    static StatusMessage checkCompleted(StatusMessage terminal) {
        if (terminal.status() == JobStatus.ERROR) {
            throw new RemoteException("remote job " + terminal.id() + " failed: " + terminal.description());
        }
        return terminal;
    }

    /**
     * The status message of a JSON answer ({@code POST /request}, {@code GET /response/{id}}), checked as every
     * event is.
     *
     * @param expectedId the job asked about, or {@code null} for the answer to a submission
     * @throws RemoteException when it is not a status message, or that of another job
     */
    StatusMessage statusMessage(byte[] json, String expectedId) {
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

    /**
     * The lines of an event stream, read a buffer at a time (not a byte at a time through the connection's
     * layers), each at most {@link Protocol#MAX_EVENT_LINE_BYTES} long.
     *
     * <p>Hand-written on purpose: the JDK's line readers ({@code BufferedReader.readLine}, {@code Scanner}) have no
     * bound on a line's length, so a hostile or broken server could make the client hold a line as long as it
     * cares to send, until memory runs out. This reader refuses a longer line as soon as it has read that much.
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
}
