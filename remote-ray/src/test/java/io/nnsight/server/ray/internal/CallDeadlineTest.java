package io.nnsight.server.ray.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The deadline of a call to a replica as the front end moves it, answer after answer of the replica about the late
 * call ({@link LateCall} decides each): the replica that does not answer is stuck at once; a call it no longer has gets
 * the time its answer takes to arrive once, and once more only after the replica has seen it again.
 */
class CallDeadlineTest {
    private static final Duration LIMITS = Duration.ofSeconds(60);
    private static final Duration GRACE = Duration.ofSeconds(5);

    @Test
    void new_endsAfterTheLimitsAndTheGrace() {
        long before = System.nanoTime();
        CallDeadline deadline = new CallDeadline(LIMITS, GRACE);
        long after = System.nanoTime();

        long allowance = LIMITS.plus(GRACE).toNanos();
        assertTrue(deadline.end() - before >= allowance && deadline.end() - after <= allowance);
        long left = deadline.millisLeft();
        assertTrue(left > 64_000 && left <= 65_000, left + " ms left");
    }

    @Test
    void moveLater_replicaDoesNotAnswer_isStuck() {
        CallDeadline deadline = new CallDeadline(LIMITS, GRACE);
        long end = deadline.end();

        assertFalse(deadline.moveLater(OptionalLong.empty()));
        assertEquals(end, deadline.end(), "unchanged");
    }

    @Test
    void moveLater_callWaitingBehindOthers_getsItsWholeAllowanceFromNow() {
        CallDeadline deadline = new CallDeadline(Duration.ZERO, Duration.ofMillis(1));
        long asked = System.nanoTime();

        assertTrue(deadline.moveLater(OptionalLong.of(ModelThread.WAITING)));

        assertTrue(deadline.end() - asked >= TimeUnit.MILLISECONDS.toNanos(1));
    }

    @Test
    void moveLater_callRunningPastItsAllowance_isStuck() {
        CallDeadline deadline = new CallDeadline(LIMITS, GRACE);

        assertTrue(deadline.moveLater(OptionalLong.of(30_000)), "running within its allowance");
        assertFalse(deadline.moveLater(OptionalLong.of(65_000)), "running past it");
    }

    @Test
    void moveLater_callTheReplicaNoLongerHas_getsTheTimeItsAnswerTakes_onceUntilSeenAgain() {
        CallDeadline deadline = new CallDeadline(LIMITS, GRACE);
        long asked = System.nanoTime();

        assertTrue(deadline.moveLater(OptionalLong.of(ModelThread.UNKNOWN)), "its answer may be on its way");
        assertTrue(deadline.end() - asked >= LateCall.IN_FLIGHT.toNanos());
        assertFalse(deadline.moveLater(OptionalLong.of(ModelThread.UNKNOWN)), "still not there: given up");

        CallDeadline seenAgain = new CallDeadline(LIMITS, GRACE);
        assertTrue(seenAgain.moveLater(OptionalLong.of(ModelThread.UNKNOWN)));
        assertTrue(seenAgain.moveLater(OptionalLong.of(ModelThread.WAITING)), "the replica has it again");
        assertTrue(seenAgain.moveLater(OptionalLong.of(ModelThread.UNKNOWN)), "so its answer gets the time once more");
    }
}
