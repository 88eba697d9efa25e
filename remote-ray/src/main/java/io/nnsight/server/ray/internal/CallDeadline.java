package io.nnsight.server.ray.internal;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * When a call to a replica must have been answered: its jobs' time limits and a grace from when it was sent, moved
 * later, when it comes, by what its replica says of the call ({@link LateCall}). Thread-safe for {@link #end}, which
 * the server's watchdog reads from another thread; the rest is the calling thread's.
 *
 * <pre>{@code
 * CallDeadline deadline = new CallDeadline(limits, grace);
 * while (answer not in) {
 *     wait for it up to deadline.millisLeft();
 *     if (late && !deadline.moveLater(what the replica says it has run the call for)) { restart the replica; }
 * }
 * }</pre>
 */
final class CallDeadline {
    private final Duration allowance;
    private volatile long end;
    private boolean unseen;

    /** The deadline of a call sent now, whose jobs' limits add up to {@code limits}, with {@code grace} to answer. */
    CallDeadline(Duration limits, Duration grace) {
        this.allowance = limits.plus(grace);
        this.end = System.nanoTime() + allowance.toNanos();
    }

    /** When the call must have been answered, in {@link System#nanoTime()}'s terms. */
    long end() {
        return end;
    }

    /** How long to wait for the answer now, in milliseconds (at least 1). */
    long millisLeft() {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()));
    }

    /**
     * Moves the deadline of the call, now late, by what its replica said of it: whether it moved later (the call waited
     * behind other calls, or its answer is on its way), or the replica is stuck ({@code false}).
     *
     * @param runningMillis the replica's answer ({@link ReplicaActor#runningMillis}): how long the call has run there,
     *     {@link ModelThread#WAITING} while it waits, {@link ModelThread#UNKNOWN} when the replica does not have it;
     *     empty when the replica did not answer, even a question that runs beside its calls
     */
    boolean moveLater(OptionalLong runningMillis) {
        if (runningMillis.isEmpty()) {
            return false;
        }
        LateCall late = LateCall.of(System.nanoTime(), runningMillis.getAsLong(), allowance, unseen);
        if (late == null) {
            return false;
        }
        end = late.end();
        unseen = late.unseen();
        return true;
    }
}
