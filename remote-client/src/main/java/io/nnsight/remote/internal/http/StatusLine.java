package io.nnsight.remote.internal.http;

import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Shows a remote job's progress to the person running the program: a listener for {@link
 * HttpTransport#stream}.
 *
 * <pre>{@code
 * nnsight: job 3f2a9c41 queued, 2 ahead
 * nnsight: job 3f2a9c41 running
 * nnsight: job 3f2a9c41 completed, 1.3 KiB, 5.0 s
 * }</pre>
 *
 * <p>On a terminal ({@code System.console() != null}) the status is one line on standard error, rewritten
 * in place ({@code \r}) at each change; otherwise (a log file, a build) each change is a line of its own.
 * {@code LOG} statuses, the lines the job's code printed, go to standard output as they arrive, each on a
 * line of its own, as they would have locally. {@link #logsOnly()} shows just those; {@link #disabled()}
 * shows nothing.
 */
public final class StatusLine implements Consumer<StatusMessage> {
    private final PrintStream out;
    private final PrintStream err;
    private final boolean terminal;
    private final boolean statuses;
    private final boolean logs;
    private String shown = "";
    private JobStatus lastStatus;
    private Integer lastPosition;
    private long started = -1;

    /**
     * A status line on {@code err} and logs on {@code out}; {@code terminal} chooses rewriting one line
     * over printing a line per change.
     */
    public StatusLine(PrintStream out, PrintStream err, boolean terminal) {
        this(out, err, terminal, true, true);
    }

    private StatusLine(PrintStream out, PrintStream err, boolean terminal, boolean statuses, boolean logs) {
        this.out = out;
        this.err = err;
        this.terminal = terminal;
        this.statuses = statuses;
        this.logs = logs;
    }

    /** A status line on {@code System.err}, rewritten in place when the program runs in a terminal. */
    public static StatusLine standard() {
        return new StatusLine(System.out, System.err, System.console() != null);
    }

    /** No status line, but the job's printed lines on {@code System.out}, as they would be locally. */
    public static StatusLine logsOnly() {
        return new StatusLine(System.out, null, false, false, true);
    }

    /** A listener that shows nothing, the job's printed lines included. */
    public static StatusLine disabled() {
        return new StatusLine(null, null, false, false, false);
    }

    @Override
    public synchronized void accept(StatusMessage message) {
        if (message.status() == JobStatus.LOG) {
            if (logs) {
                printLog(message.description() == null ? "" : message.description());
            }
            return;
        }
        if (!statuses) {
            return;
        }
        if (message.status() == JobStatus.RUNNING && started < 0) {
            started = message.time();
        }
        boolean changed = message.status() != lastStatus || !Objects.equals(message.position(), lastPosition);
        lastStatus = message.status();
        lastPosition = message.position();
        if (!changed) {
            return;
        }
        String text = "nnsight: job " + shortId(message.id()) + " " + describe(message);
        if (terminal) {
            err.print("\r" + text + padding(text));
            if (message.terminal()) {
                err.println();
                shown = "";
            } else {
                shown = text;
            }
        } else {
            err.println(text);
        }
        err.flush();
    }

    private void printLog(String line) {
        if (terminal && !shown.isEmpty()) {
            err.print("\r" + " ".repeat(shown.length()) + "\r");
            err.flush();
        }
        out.println(line);
        out.flush();
        if (terminal && !shown.isEmpty()) {
            err.print(shown);
            err.flush();
        }
    }

    /** Spaces that blank what is left of a longer line shown before. */
    private String padding(String text) {
        return " ".repeat(Math.max(0, shown.length() - text.length()));
    }

    private String describe(StatusMessage message) {
        switch (message.status()) {
            case RECEIVED:
                return "received";
            case QUEUED:
                Integer ahead = message.position();
                return ahead == null ? "queued" : ahead == 0 ? "queued, next" : "queued, " + ahead + " ahead";
            case RUNNING:
                return "running";
            case COMPLETED:
                String size = message.size() == null ? "" : ", " + bytes(message.size());
                return "completed" + size + (started < 0 ? "" : ", " + seconds(message.time() - started));
            case ERROR:
                return "failed: " + message.description();
            default:
                return message.status().toString().toLowerCase(Locale.ROOT);
        }
    }

    private static String shortId(String id) {
        return id.length() > 8 ? id.substring(0, 8) : id;
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    private static String bytes(long size) {
        if (size < 1024) {
            return size + " B";
        }
        if (size < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", size / 1024.0);
        }
        return String.format(Locale.ROOT, "%.1f MiB", size / (1024.0 * 1024));
    }
}
