package io.nnsight.spi;

import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.helpers.MessageFormatter;

/**
 * Whether nnsight runs in debug mode: {@code -Dnnsight.debug=true} or the environment variable {@code
 * NNSIGHT_DEBUG=1}. In debug mode, stack traces of errors keep the tracing engine's own frames, and nnsight's
 * modules say what they decide ({@link #log}): which engine runs a body, what the agent compiled and why not.
 *
 * <pre>{@code
 * if (Debug.enabled()) {
 *     Debug.log(LOG, "nnsight: {} runs as a state machine", name);
 * }
 * }</pre>
 */
public final class Debug {
    private Debug() {}

    /** Whether debug mode is on; read at each call (it is consulted only when an error is reported). */
    public static boolean enabled() {
        String property = System.getProperty("nnsight.debug");
        if (property != null) {
            return isTrue(property);
        }
        String environment = System.getenv("NNSIGHT_DEBUG");
        return environment != null && isTrue(environment);
    }

    private static boolean isTrue(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        return v.equals("1") || v.equals("true") || v.equals("yes") || v.equals("on");
    }

    /**
     * Writes a debug message through {@code log} at INFO level, or, when the application's logging would drop
     * it (its level for nnsight is above INFO, as the {@code nnsight} command's is), to standard error: the
     * user asked for these messages with the flag, wherever the library runs.
     *
     * @param format an SLF4J message format, {@code {}} for each argument
     */
    public static void log(Logger log, String format, Object... arguments) {
        if (log.isInfoEnabled()) {
            log.info(format, arguments);
        } else {
            System.err.println(MessageFormatter.arrayFormat(format, arguments).getMessage());
        }
    }
}
