package io.nnsight;

import java.util.Arrays;
import java.util.OptionalInt;

/**
 * Which iterations a {@link Tracer#iter(Steps) tr.iter(...)} loop visits.
 *
 * <p>Each call of a module during one run is a new iteration of it: in a generation every step calls
 * every module once, so step {@code n} is iteration {@code n}; a module called three times in one
 * forward has iterations 0, 1 and 2. Inside the loop, {@link Envoy#output()} and friends read the
 * iteration of the current step.
 *
 * <pre>{@code
 * for (int step : tr.iter(Steps.all()))       { ... }   // every iteration the run makes
 * for (int step : tr.iter(Steps.range(1, 4))) { ... }   // 1, 2, 3
 * for (int step : tr.iter(Steps.of(0, 2)))    { ... }   // 0 and 2
 * for (int step : tr.iter(Steps.at(3)))       { ... }   // just 3
 * }</pre>
 *
 * <p>An unbounded loop ({@link #all()}, {@link #from(int)}) ends when the run ends: the loop's {@code
 * hasNext()} waits until the next iteration starts, or returns {@code false} once the run is over, so the
 * code after the loop runs (but every module has run by then: read later modules inside the loop, or in
 * another invoke). Iteration {@code n} is taken to start when the first module the loop read in its first
 * step is called for the {@code n}-th time.
 */
public final class Steps {
    private final int[] explicit; // sorted, distinct; null for a range
    private final int from;
    private final int to; // exclusive; -1 for unbounded

    private Steps(int[] explicit, int from, int to) {
        this.explicit = explicit;
        this.from = from;
        this.to = to;
    }

    /** Every iteration, from 0 until the run ends. */
    public static Steps all() {
        return new Steps(null, 0, -1);
    }

    /** Iterations {@code from}, {@code from + 1}, ... until the run ends. */
    public static Steps from(int from) {
        checkNonNegative(from, "from");
        return new Steps(null, from, -1);
    }

    /** Iterations {@code from} (inclusive) to {@code to} (exclusive). */
    public static Steps range(int from, int to) {
        checkNonNegative(from, "from");
        if (to < from) {
            throw new IllegalArgumentException("range(" + from + ", " + to + "): 'to' must not be less than 'from'");
        }
        return new Steps(null, from, to);
    }

    /** Exactly the given iterations, visited in increasing order. */
    public static Steps of(int... iterations) {
        int[] sorted = Arrays.stream(iterations).distinct().sorted().toArray();
        if (sorted.length > 0) {
            checkNonNegative(sorted[0], "iteration");
        }
        return new Steps(sorted, 0, 0);
    }

    /** One iteration. */
    public static Steps at(int iteration) {
        return of(iteration);
    }

    /** Whether the loop runs until the run ends rather than to a known last iteration. */
    public boolean isUnbounded() {
        return explicit == null && to < 0;
    }

    /** The iteration the loop visits at position {@code index} (0 for its first pass), if there is one. */
    public OptionalInt stepAt(int index) {
        if (explicit != null) {
            return index < explicit.length ? OptionalInt.of(explicit[index]) : OptionalInt.empty();
        }
        int step = from + index;
        return to < 0 || step < to ? OptionalInt.of(step) : OptionalInt.empty();
    }

    private static void checkNonNegative(int value, String what) {
        if (value < 0) {
            throw new IllegalArgumentException(what + " must be >= 0, got " + value);
        }
    }

    @Override
    public String toString() {
        if (explicit != null) {
            return "Steps.of" + Arrays.toString(explicit).replace('[', '(').replace(']', ')');
        }
        return to < 0 ? "Steps.from(" + from + ")" : "Steps.range(" + from + ", " + to + ")";
    }
}
