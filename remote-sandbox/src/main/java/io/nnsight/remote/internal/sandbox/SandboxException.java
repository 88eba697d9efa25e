package io.nnsight.remote.internal.sandbox;

import java.util.List;

/**
 * Shipped code that the sandbox refuses to run. The message names each refused reference on a line of its
 * own, where it is and why it is refused, and ends with what to do instead:
 *
 * <pre>
 * The server's sandbox refused the shipped code:
 *   com.example.Probe.run(12): java.io.File — files are off limits to shipped code
 *   com.example.Probe.run(14): java.lang.System.exit(int) — it would stop the server
 * Intervention code may use the nnsight API, tensor operations, ...
 * </pre>
 */
public final class SandboxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final List<String> violations;

    SandboxException(List<String> violations, String hint) {
        super("The server's sandbox refused the shipped code:\n  " + String.join("\n  ", violations) + "\n" + hint);
        this.violations = List.copyOf(violations);
    }

    /** Each refused reference as one line: {@code <class>.<method>(<line>): <reference> — <why>}. */
    public List<String> violations() {
        return violations;
    }
}
