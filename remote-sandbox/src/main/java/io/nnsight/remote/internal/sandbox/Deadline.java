package io.nnsight.remote.internal.sandbox;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * The time limit of the job running on the current thread, checked by shipped code at the start of every
 * method and at every loop's back edge (the {@link Rewriter} inserts the calls).
 *
 * <pre>{@code
 * byte[] result = Deadline.within(Duration.ofSeconds(30), () -> runTheJob());
 * }</pre>
 *
 * <p>The deadline is an {@link InheritableThreadLocal}, so it reaches the threads the job's own code causes
 * to be started while it runs: the thread engine runs each trace body on a virtual thread that the job's
 * thread creates. It is set per job, not per JVM, because several models may each run a job at once.
 *
 * <p>Limits, by design: the deadline stops shipped code between its own instructions, not inside a call. One
 * long call into the JDK or into libtorch (an enormous matrix product) runs to its end first. The server needs
 * its own last resort for those.
 *
 * <p>Pitfall: a thread that the server (not the job) starts while a job runs also inherits the job's deadline.
 * That is harmless, since only shipped code calls {@link #check()}, but such a thread should not go on to run
 * another job's code.
 */
public final class Deadline {
    /** Longer limits are treated as this one, so that the end time fits in a {@code long} of nanoseconds. */
    private static final Duration LONGEST = Duration.ofDays(365L * 100);
    private static final JobScoped<Limit> CURRENT = new JobScoped<>();

    private Deadline() {}

    /**
     * Throws {@link DeadlineExceededError} when the current thread's job has run past its time limit; does
     * nothing outside jobs. Cheap, since it runs at every loop iteration of shipped code: a thread-local read,
     * and a clock read only within a job; it allocates nothing until it throws.
     */
    public static void check() {
        Limit limit = CURRENT.get();
        if (limit != null && System.nanoTime() - limit.end() > 0) {
            throw new DeadlineExceededError(limit.duration());
        }
    }

    /**
     * Runs {@code work} with a deadline {@code limit} from now on this thread and the threads it starts, and
     * clears the deadline afterwards. Nested calls keep the earlier of the two deadlines.
     *
     * @param limit how long the work may run; not negative
     * @return what {@code work} returns
     * @throws Exception what {@code work} throws, {@link DeadlineExceededError} included
     */
    public static <T> T within(Duration limit, Callable<T> work) throws Exception {
        if (limit.isNegative()) {
            throw new IllegalArgumentException("the time limit must not be negative, got " + limit);
        }
        Objects.requireNonNull(work, "work");
        Limit outer = CURRENT.get();
        Limit inner = start(limit);
        return CURRENT.with(outer != null && outer.end() - inner.end() < 0 ? outer : inner, work);
    }

    /**
     * A deadline {@code limit} from now, in force on no thread yet: for work that is not one call, such as the
     * pieces of one job's code that run among other jobs' in a shared forward pass ({@link #enter}).
     *
     * @param limit how long the work may run; not negative
     */
    public static Limit start(Duration limit) {
        if (limit.isNegative()) {
            throw new IllegalArgumentException("the time limit must not be negative, got " + limit);
        }
        return new Limit(System.nanoTime() + (limit.compareTo(LONGEST) < 0 ? limit : LONGEST).toNanos(), limit);
    }

    /**
     * Puts {@code limit} in force on this thread (and the threads it starts from now on), whatever was in force.
     *
     * @return what was in force before, for {@link #leave}; {@code null} for none
     */
    public static Limit enter(Limit limit) {
        return CURRENT.swap(Objects.requireNonNull(limit, "limit"));
    }

    /** Puts {@code previous}, what the matching {@link #enter} returned, back in force on this thread. */
    public static void leave(Limit previous) {
        CURRENT.swap(previous);
    }

    /** A deadline: the {@link System#nanoTime()} it ends at, and the limit it was set from. */
    public static final class Limit {
        private volatile long end;
        private final Duration duration;

        private Limit(long end, Duration duration) {
            this.end = end;
            this.duration = duration;
        }

        /** The {@link System#nanoTime()} at which it ends now: later each time it is {@linkplain #extend extended}. */
        public long end() {
            return end;
        }

        /**
         * Moves the end {@code nanos} later: time during which the job's clock should not run, such as the time
         * other jobs' code ran while this job shared a forward pass with them.
         */
        public synchronized void extend(long nanos) {
            if (nanos > 0) {
                end += nanos;
            }
        }

        Duration duration() {
            return duration;
        }
    }
}
