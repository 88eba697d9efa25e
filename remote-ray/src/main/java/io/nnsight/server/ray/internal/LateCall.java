package io.nnsight.server.ray.internal;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * What the front end makes of a replica's answer about a call that is late ({@link ReplicaActor#runningMillis}): the
 * call's new deadline, or {@code null} when the replica is stuck. A call that waits behind the replica's other calls
 * gets its whole allowance from now; one that runs gets it from when it started; one the replica no longer has (its
 * answer is on its way) gets the grace once more, and is given up on if the replica still does not have it then.
 *
 * @param end the new deadline, in {@link System#nanoTime()}'s terms
 * @param unseen whether the replica did not have the call this time
 */
record LateCall(long end, boolean unseen) {
    /** How long an answer the replica sent may take to arrive. */
    static final Duration IN_FLIGHT = Duration.ofSeconds(5);

    /**
     * The call's new deadline, or {@code null} when its replica is stuck.
     *
     * @param now {@link System#nanoTime()} now
     * @param runningMillis the replica's answer: how long the call has run there, {@code -1} while it waits, {@code
     *     -2} when the replica does not have it
     * @param allowance how long the call may run: its jobs' time limits and the grace
     * @param unseenBefore whether the replica did not have the call the last time it was asked
     */
    static LateCall of(long now, long runningMillis, Duration allowance, boolean unseenBefore) {
        if (runningMillis == ModelThread.WAITING) {
            return new LateCall(now + allowance.toNanos(), false);
        }
        if (runningMillis == ModelThread.UNKNOWN) {
            return unseenBefore ? null : new LateCall(now + IN_FLIGHT.toNanos(), true);
        }
        long end = now - TimeUnit.MILLISECONDS.toNanos(runningMillis) + allowance.toNanos();
        return end - now > 0 ? new LateCall(end, false) : null;
    }
}
