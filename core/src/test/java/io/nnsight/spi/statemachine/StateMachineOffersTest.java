package io.nnsight.spi.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How compiled methods find their state machine: a caller offers it to one callee, named by its method key,
 * and only that callee (or, for the offer {@code resume} makes, the body) takes it.
 */
class StateMachineOffersTest {
    private static final int HELPER = StateMachine.methodKey("app/Probes", "read", "()Lorg/bytedeco/pytorch/Tensor;");
    private static final int OTHER = StateMachine.methodKey("app/Probes", "<clinit>", "()V");

    private final StateMachine machine =
            new StateMachine("invoke 0", StateMachineOffersTest.class, () -> null, "threads");

    @AfterEach
    void noOfferLeft() {
        machine.withdraw();
    }

    @Test
    void claim_byTheCallee_takesTheOfferOnce() {
        machine.offer(HELPER);

        assertSame(machine, StateMachine.claim(HELPER));
        assertNull(StateMachine.claim(HELPER));
    }

    @Test
    void claim_byAnotherCompiledMethod_leavesTheOfferAlone() {
        machine.offer(HELPER);

        assertNull(StateMachine.claim(OTHER), "a method run before the callee (a static initializer) took the offer");
        assertSame(machine, StateMachine.claim(HELPER));
    }

    @Test
    void suspending_afterACalleeThatDidNotClaim_withdrawsTheOffer() {
        machine.offer(HELPER);

        assertFalse(machine.suspending());
        assertNull(StateMachine.claim(HELPER));
    }

    @Test
    void resume_offersTheStateMachineToTheFirstCompiledMethodEntered() {
        StateMachine[] claimed = new StateMachine[1];
        StateMachine body = new StateMachine("invoke 1", StateMachineOffersTest.class, () -> {
            claimed[0] = StateMachine.claim(OTHER);
            return "done";
        }, "threads");

        assertEquals("done", body.resume(null));
        assertSame(body, claimed[0]);
        assertNull(StateMachine.claim(OTHER), "the offer ends with the resumption");
    }

    @Test
    void methodKey_isStableAndNeverTheBodysWildcard() {
        assertEquals(HELPER, StateMachine.methodKey("app/Probes", "read", "()Lorg/bytedeco/pytorch/Tensor;"));
        assertNotEquals(HELPER, OTHER);
        assertNotEquals(StateMachine.ANY_METHOD, HELPER);
    }
}
