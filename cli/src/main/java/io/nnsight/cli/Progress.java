package io.nnsight.cli;

import java.io.Console;
import java.io.PrintWriter;
import java.lang.reflect.Method;

/**
 * A status line on standard error while something long runs ("loading ..."), redrawn in place and erased
 * when done: on an interactive terminal only, so that output piped to a file or another program stays clean.
 */
final class Progress {
    private final PrintWriter err;
    private final boolean shown;
    private int width;

    /** Status lines on {@code err} if {@code shown}; else nothing. */
    Progress(PrintWriter err, boolean shown) {
        this.err = err;
        this.shown = shown;
    }

    /** Status lines on {@code err} when the program runs on an interactive terminal. */
    static Progress onTerminal(PrintWriter err) {
        return new Progress(err, isTerminal());
    }

    /**
     * Whether the program talks to an interactive terminal. Before Java 22 {@link System#console()} is null
     * otherwise; from Java 22 on it is never null and {@code Console.isTerminal()} (called reflectively, since
     * the command runs on Java 17) tells.
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

    /** Shows {@code status} in place of the previous one. */
    void show(String status) {
        if (shown) {
            err.print('\r' + status + " ".repeat(Math.max(0, width - status.length())));
            err.flush();
            width = status.length();
        }
    }

    /** Erases the status line. */
    void clear() {
        if (shown && width > 0) {
            err.print('\r' + " ".repeat(width) + '\r');
            err.flush();
            width = 0;
        }
    }
}
