package io.nnsight.remote.internal.sandbox;

/**
 * One thing in a shipped class that the sandbox refuses; its {@link #toString()} is a line of a
 * {@link SandboxException}: {@code com.example.Probe.run(12): java.io.File — files are off limits to shipped code}.
 *
 * @param where the shipped class, with the method and line where known ({@code com.example.Probe.run(12)})
 * @param what what it references or declares ({@code java.lang.System.exit(int)})
 * @param why why that is refused
 * @param newerJava whether the class was compiled for a newer Java than the server's and this is what the
 *     server's Java lacks
 */
record Violation(String where, String what, String why, boolean newerJava) {
    @Override
    public String toString() {
        return where + ": " + what + " — " + why;
    }
}
