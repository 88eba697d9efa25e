package io.nnsight.hub;

import java.io.Console;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/** The listener of {@link DownloadListener#consoleProgressBar()}: one line per file, redrawn with a carriage return. */
final class ConsoleProgressBar implements DownloadListener {
    private static final int BAR_WIDTH = 30;
    private static final long REDRAW_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final PrintStream out;
    private String currentFile;
    private long lastDrawNanos;
    private int lastLineLength;

    ConsoleProgressBar(PrintStream out) {
        this.out = out;
    }

    /**
     * Whether the program talks to an interactive terminal. Before Java 22 {@link System#console()} is null
     * otherwise; from Java 22 on it is never null and {@code Console.isTerminal()} (called reflectively, since
     * this library runs on Java 17) tells.
     */
    static boolean isTerminal() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        try {
            Method isTerminal = Console.class.getMethod("isTerminal");
            return (Boolean) isTerminal.invoke(console);
        } catch (NoSuchMethodException e) {
            return true;
        } catch (ReflectiveOperationException e) {
            return false;
        }
    }

    @Override
    public synchronized void onProgress(String filename, long bytesDownloaded, long totalBytes) {
        boolean complete = totalBytes >= 0 && bytesDownloaded >= totalBytes;
        long now = System.nanoTime();
        if (!filename.equals(currentFile)) {
            if (currentFile != null) {
                out.println(); // another file interrupted this one's line
            }
            currentFile = filename;
            lastLineLength = 0;
        } else if (!complete && now - lastDrawNanos < REDRAW_INTERVAL_NANOS) {
            return;
        }
        lastDrawNanos = now;
        String line = render(filename, bytesDownloaded, totalBytes);
        out.print('\r' + line + " ".repeat(Math.max(0, lastLineLength - line.length())));
        lastLineLength = line.length();
        if (complete) {
            out.println();
            currentFile = null;
        }
        out.flush();
    }

    /** One line: the file, a bar and a percentage when the size is known, and the bytes so far. */
    static String render(String filename, long bytesDownloaded, long totalBytes) {
        if (totalBytes < 0) {
            return filename + "  " + formatBytes(bytesDownloaded);
        }
        double fraction = totalBytes == 0 ? 1 : Math.min(1, (double) bytesDownloaded / totalBytes);
        int filled = (int) (fraction * BAR_WIDTH);
        return String.format(Locale.ROOT, "%s  [%s%s] %3d%%  %s / %s", filename, "#".repeat(filled),
                "-".repeat(BAR_WIDTH - filled), (int) (fraction * 100), formatBytes(bytesDownloaded),
                formatBytes(totalBytes));
    }

    /** Bytes in binary units, like {@code 512 B}, {@code 1.5 KiB} or {@code 522.7 MiB}. */
    static String formatBytes(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
