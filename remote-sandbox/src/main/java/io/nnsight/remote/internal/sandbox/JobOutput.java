package io.nnsight.remote.internal.sandbox;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * Where a job's code prints to: shipped code's {@code System.out} and {@code System.err} are rewritten to
 * {@link #out()} and {@link #err()} (see {@link Rewriter}), which return the current job's streams.
 *
 * <pre>{@code
 * byte[] result = JobOutput.capturing(line -> status.log(jobId, line), () -> runTheJob());
 * }</pre>
 *
 * <p>The streams are held in an {@link InheritableThreadLocal}, so the threads a job's trace starts print to
 * the same job. Both streams deliver whole lines (UTF-8, without the line break) to one consumer, one line at a
 * time; a line longer than 64 KiB is delivered in pieces, so that a job cannot fill the server's memory with
 * one endless line.
 *
 * <p>Pitfalls: what a job prints after {@link #capturing} returned (from a thread it left running) is
 * dropped. The consumer runs on the printing thread, inside the job's {@code println}, so it should be quick
 * and should not throw. JDK code that prints by itself ({@code Throwable.printStackTrace()} without a stream)
 * would bypass the rewriting; the policy refuses it.
 */
public final class JobOutput {
    private static final int LONGEST_LINE = 64 * 1024;
    /** The most characters a {@linkplain #buffering() buffered} capture keeps; later lines are dropped, with a note. */
    static final int MAX_BUFFERED_CHARS = 2 << 20;

    private static final JobScoped<Capture> CURRENT = new JobScoped<>();

    private JobOutput() {}

    /** The current job's standard output; {@link System#out} outside jobs. */
    public static PrintStream out() {
        Capture streams = CURRENT.get();
        return streams == null ? System.out : streams.out();
    }

    /** The current job's standard error; {@link System#err} outside jobs. */
    public static PrintStream err() {
        Capture streams = CURRENT.get();
        return streams == null ? System.err : streams.err();
    }

    /**
     * Runs {@code work}, passing each line its code prints (to {@link #out()} or {@link #err()}, on this thread
     * or the threads it starts) to {@code lines}, and a last unfinished line when it ends.
     *
     * @return what {@code work} returns
     * @throws Exception what {@code work} throws
     */
    public static <T> T capturing(Consumer<String> lines, Callable<T> work) throws Exception {
        Objects.requireNonNull(work, "work");
        Capture streams = new Capture(new Log(Objects.requireNonNull(lines, "lines")));
        try {
            return CURRENT.with(streams, work);
        } finally {
            streams.end();
        }
    }

    /**
     * A capture whose lines are kept until {@link Capture#publish}ed, in force on no thread yet: for a job whose
     * code runs in pieces among other jobs' ({@link #enter}), and whose lines must reach its log only once its
     * outcome is known (they are dropped if it runs again). It keeps at most 2 Mi
     * characters, then a note that the rest was dropped.
     */
    public static Capture buffering() {
        return new Capture(new Log(null));
    }

    /**
     * Puts {@code capture} in force on this thread (and the threads it starts from now on), whatever was in force.
     *
     * @return what was in force before, for {@link #leave}; {@code null} for none
     */
    public static Capture enter(Capture capture) {
        return CURRENT.swap(Objects.requireNonNull(capture, "capture"));
    }

    /** Puts {@code previous}, what the matching {@link #enter} returned, back in force on this thread. */
    public static void leave(Capture previous) {
        CURRENT.swap(previous);
    }

    /**
     * One job's two streams, and where their lines go. Each stream is made when the job first prints to it: most jobs
     * print nothing, and a {@code PrintStream} costs its encoder and buffers.
     */
    public static final class Capture {
        private final Log log;
        private volatile PrintStream out;
        private volatile PrintStream err;

        private Capture(Log log) {
            this.log = log;
        }

        PrintStream out() {
            PrintStream stream = out;
            if (stream == null) {
                synchronized (this) { // held only to make the stream: never while a stream is in use
                    if (out == null) {
                        out = log.stream();
                    }
                    stream = out;
                }
            }
            return stream;
        }

        PrintStream err() {
            PrintStream stream = err;
            if (stream == null) {
                synchronized (this) {
                    if (err == null) {
                        err = log.stream();
                    }
                    stream = err;
                }
            }
            return stream;
        }

        /**
         * Ends the capture: a last unfinished line of each stream is taken as a line; later ones are dropped (a
         * stream first printed to later is never read).
         */
        public void end() {
            PrintStream ending = out;
            if (ending != null) {
                ending.close();
            }
            ending = err;
            if (ending != null) {
                ending.close();
            }
            log.end();
        }

        /**
         * Ends a {@linkplain #buffering() buffered} capture and passes the lines it kept to {@code lines}, in
         * order; afterwards it keeps none.
         */
        public void publish(Consumer<String> lines) {
            end();
            for (String line : log.takeKept()) {
                lines.accept(line);
            }
        }

        /** Ends the capture and forgets the lines it kept. */
        public void drop() {
            end();
            log.takeKept();
        }
    }

    /**
     * The lines of one job's streams, passed to its consumer one at a time until the job ends, or, without a
     * consumer, kept until taken.
     */
    private static final class Log {
        private Consumer<String> lines;
        private List<String> kept;
        private long keptChars;
        private boolean ended;

        Log(Consumer<String> lines) {
            this.lines = lines;
            this.kept = lines == null ? new ArrayList<>() : null;
        }

        PrintStream stream() {
            return new PrintStream(new LineSplitter(this), true, StandardCharsets.UTF_8);
        }

        synchronized void line(String line) {
            if (ended) {
                return;
            }
            if (lines != null) {
                lines.accept(line);
                return;
            }
            if (keptChars > MAX_BUFFERED_CHARS) {
                return;
            }
            keptChars += line.length();
            kept.add(keptChars > MAX_BUFFERED_CHARS ? "[nnsight: the job printed more than " + MAX_BUFFERED_CHARS
                    + " characters; the rest is dropped]" : line);
        }

        /** Lets go of the consumer, which threads that outlive the job would otherwise keep reachable. */
        synchronized void end() {
            lines = null;
            ended = true;
        }

        synchronized List<String> takeKept() {
            List<String> taken = kept == null ? List.of() : kept;
            kept = null;
            return taken;
        }
    }

    /** Cuts the bytes one stream receives into lines at {@code \n} (dropping a {@code \r} before it). */
    private static final class LineSplitter extends OutputStream {
        private final Log log;
        private byte[] line = new byte[128];
        private int length;

        LineSplitter(Log log) {
            this.log = log;
        }

        @Override
        public void write(int b) {
            if (b == '\n') {
                emit(length > 0 && line[length - 1] == '\r' ? length - 1 : length, length);
                return;
            }
            if (length == line.length) {
                line = Arrays.copyOf(line, length * 2);
            }
            line[length++] = (byte) b;
            if (length == LONGEST_LINE) {
                int cut = lastCharacterStart();
                emit(cut, cut);
            }
        }

        @Override
        public void write(byte[] bytes, int offset, int count) {
            Objects.checkFromIndexSize(offset, count, bytes.length);
            for (int i = offset; i < offset + count; i++) {
                write(bytes[i]);
            }
        }

        @Override
        public void close() {
            if (length > 0) {
                emit(length, length);
            }
        }

        /** Passes on bytes {@code [0, end)} as a line and drops {@code [0, consumed)}; the rest begins the next. */
        private void emit(int end, int consumed) {
            String text = new String(line, 0, end, StandardCharsets.UTF_8);
            System.arraycopy(line, consumed, line, 0, length - consumed);
            length -= consumed;
            log.line(text);
        }

        /** Where the last character starts, so that a long line is cut between characters, not inside one. */
        private int lastCharacterStart() {
            for (int start = length - 1; start > 0; start--) {
                if ((line[start] & 0xC0) != 0x80) {
                    return start;
                }
            }
            return length; // not UTF-8 at all: cut anywhere
        }
    }
}
