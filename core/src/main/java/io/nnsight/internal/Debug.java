package io.nnsight.internal;

/**
 * Whether nnsight runs in debug mode: {@code -Dnnsight.debug=true} or the environment variable {@code
 * NNSIGHT_DEBUG=1}. In debug mode, stack traces of errors keep the tracing engine's own frames.
 */
public final class Debug {
    private static final boolean ENABLED = read();

    private Debug() {}

    /** Whether debug mode is on; read once per process. */
    public static boolean enabled() {
        return ENABLED;
    }

    private static boolean read() {
        String property = System.getProperty("nnsight.debug");
        if (property != null) {
            return isTrue(property);
        }
        String environment = System.getenv("NNSIGHT_DEBUG");
        return environment != null && isTrue(environment);
    }

    private static boolean isTrue(String value) {
        String v = value.trim().toLowerCase(java.util.Locale.ROOT);
        return v.equals("1") || v.equals("true") || v.equals("yes") || v.equals("on");
    }
}
