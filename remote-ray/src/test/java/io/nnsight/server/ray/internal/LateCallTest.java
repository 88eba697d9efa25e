package io.nnsight.server.ray.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What the front end makes of a replica's answer about a late call: a later deadline, or a stuck replica. */
class LateCallTest {
    private static final long NOW = 1_000_000_000_000L;
    private static final Duration ALLOWANCE = Duration.ofSeconds(65); // a minute's limit and the grace

    @Test
    void of_aCallWaitingBehindOthers_getsItsWholeAllowanceFromNow() {
        LateCall late = LateCall.of(NOW, ModelThread.WAITING, ALLOWANCE, false);

        assertEquals(NOW + ALLOWANCE.toNanos(), late.end());
        assertFalse(late.unseen());
    }

    @Test
    void of_aCallRunningWithinItsAllowance_getsItFromWhenItStarted() {
        LateCall late = LateCall.of(NOW, 40_000, ALLOWANCE, false);

        assertEquals(NOW - TimeUnit.SECONDS.toNanos(40) + ALLOWANCE.toNanos(), late.end());
    }

    @Test
    void of_aCallRunningPastItsAllowance_meansTheReplicaIsStuck() {
        assertNull(LateCall.of(NOW, 65_000, ALLOWANCE, false));
        assertNull(LateCall.of(NOW, 90_000, ALLOWANCE, false));
    }

    @Test
    void of_aCallTheReplicaNoLongerHas_getsTheTimeItsAnswerTakesToArrive_once() {
        LateCall late = LateCall.of(NOW, ModelThread.UNKNOWN, ALLOWANCE, false);

        assertEquals(NOW + LateCall.IN_FLIGHT.toNanos(), late.end());
        assertTrue(late.unseen());
        assertNull(LateCall.of(NOW, ModelThread.UNKNOWN, ALLOWANCE, true), "still unknown: the answer is lost");
        assertFalse(LateCall.of(NOW, ModelThread.WAITING, ALLOWANCE, true).unseen(), "seen again: counted afresh");
    }
}
