package io.nnsight.remote.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class StatusLineTest {
    private static final String ID = "3f2a9c41-0000-4000-8000-000000000000";

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private static List<StatusMessage> job() {
        return List.of(
                new StatusMessage(ID, JobStatus.RECEIVED, null, null, null, 0, null),
                new StatusMessage(ID, JobStatus.QUEUED, null, 1, null, 10, null),
                new StatusMessage(ID, JobStatus.QUEUED, null, 1, null, 15, null),
                new StatusMessage(ID, JobStatus.QUEUED, null, 0, null, 20, null),
                new StatusMessage(ID, JobStatus.RUNNING, null, null, null, 1000, null),
                new StatusMessage(ID, JobStatus.LOG, "hello from the job", null, null, 1100, null),
                new StatusMessage(ID, JobStatus.COMPLETED, null, null, 2048L, 3500, null));
    }

    private static String text(ByteArrayOutputStream bytes) {
        return bytes.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    }

    @Test
    void accept_notTerminal_oneLinePerChange() {
        StatusLine line = new StatusLine(new PrintStream(out, true), new PrintStream(err, true), false);
        job().forEach(line);
        assertEquals("nnsight: job 3f2a9c41 received\n"
                + "nnsight: job 3f2a9c41 queued, 1 ahead\n"
                + "nnsight: job 3f2a9c41 queued, next\n"
                + "nnsight: job 3f2a9c41 running\n"
                + "nnsight: job 3f2a9c41 completed, 2.0 KiB, 2.5 s\n", text(err));
        assertEquals("hello from the job\n", text(out));
    }

    @Test
    void accept_terminal_rewritesOneLine() {
        StatusLine line = new StatusLine(new PrintStream(out, true), new PrintStream(err, true), true);
        job().forEach(line);
        String running = "nnsight: job 3f2a9c41 running";
        assertEquals("\rnnsight: job 3f2a9c41 received"
                + "\rnnsight: job 3f2a9c41 queued, 1 ahead"
                + "\rnnsight: job 3f2a9c41 queued, next   " // blanks the rest of the longer line before
                + "\r" + running + "     "
                + "\r" + " ".repeat(running.length()) + "\r" + running // cleared for the log line, then shown again
                + "\rnnsight: job 3f2a9c41 completed, 2.0 KiB, 2.5 s\n", text(err));
        assertEquals("hello from the job\n", text(out));
    }

    @Test
    void accept_error_showsDescription() {
        StatusLine line = new StatusLine(new PrintStream(out, true), new PrintStream(err, true), false);
        line.accept(StatusMessage.of(ID, JobStatus.ERROR, "the server is shutting down"));
        assertEquals("nnsight: job 3f2a9c41 failed: the server is shutting down\n", text(err));
    }

    @Test
    void disabled_printsNothing() {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            job().forEach(StatusLine.disabled());
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
        assertEquals("", text(out) + text(err));
    }
}
