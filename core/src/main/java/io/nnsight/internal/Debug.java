package io.nnsight.internal;

import java.util.Locale;

/**
 * Whether nnsight runs in debug mode: {@code -Dnnsight.debug=true} or the environment variable {@code
 * NNSIGHT_DEBUG=1}. In debug mode, stack traces of errors keep the tracing engine's own frames.
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
}
