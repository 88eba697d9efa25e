package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.nn.Linear;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class DeadlineTest {
    private static final Duration GENEROUS = Duration.ofSeconds(20);

    @Test
    void check_outsideAJob_doesNothing() {
        assertDoesNotThrow(Deadline::check);
    }

    @Test
    void check_pastTheLimit_throwsNamingTheLimit() {
        DeadlineExceededError error = assertThrows(DeadlineExceededError.class, () -> Deadline.within(
                Duration.ofMillis(10), () -> {
                    Thread.sleep(50);
                    Deadline.check();
                    return null;
                }));

        assertEquals("the job ran past its time limit of 10 ms", error.getMessage());
    }

    @Test
    void within_returnsTheResult_andClearsTheDeadlineAfterwards() throws Exception {
        assertEquals("done", Deadline.within(Duration.ofMillis(10), () -> "done"));

        Thread.sleep(30);
        assertDoesNotThrow(Deadline::check);
    }

    @Test
    void within_reachesThreadsStartedByTheJob() throws Exception {
        AtomicReference<Throwable> seen = new AtomicReference<>();

        Deadline.within(Duration.ofMillis(10), () -> {
            Thread.sleep(30);
            Thread child = new Thread(() -> seen.set(assertThrows(DeadlineExceededError.class, Deadline::check)));
            child.start();
            child.join();
            return null;
        });

        assertInstanceOf(DeadlineExceededError.class, seen.get());
    }

    @Test
    void within_nested_keepsTheEarlierDeadline() {
        DeadlineExceededError error = assertThrows(DeadlineExceededError.class,
                () -> Deadline.within(Duration.ofMillis(10), () -> Deadline.within(Duration.ofHours(1), () -> {
                    Thread.sleep(30);
                    Deadline.check();
                    return null;
                })));

        assertEquals("the job ran past its time limit of 10 ms", error.getMessage());
    }

    @Test
    void enterAndLeave_swapADeadlineStartedEarlier_inAndOut() throws Exception {
        Deadline.Limit past = Deadline.start(Duration.ofMillis(10));
        Deadline.Limit generous = Deadline.start(Duration.ofHours(1));
        Thread.sleep(30);

        Deadline.Limit outer = Deadline.enter(past);
        DeadlineExceededError error = assertThrows(DeadlineExceededError.class, Deadline::check);
        Deadline.Limit inner = Deadline.enter(generous);
        assertDoesNotThrow(Deadline::check);
        Deadline.leave(inner);
        assertThrows(DeadlineExceededError.class, Deadline::check);
        Deadline.leave(outer);

        assertNull(outer);
        assertDoesNotThrow(Deadline::check);
        assertTrue(error.getMessage().contains("10 ms"), error.getMessage());
    }

    @Test
    void extend_movesTheEndLater() throws Exception {
        Deadline.Limit limit = Deadline.start(Duration.ofMillis(10));
        limit.extend(Duration.ofHours(1).toNanos());
        Thread.sleep(30);

        Deadline.Limit outer = Deadline.enter(limit);
        try {
            assertDoesNotThrow(Deadline::check);
        } finally {
            Deadline.leave(outer);
        }
    }

    @Test
    void within_negativeLimit_isRejected() {
        assertThrows(IllegalArgumentException.class, () -> Deadline.within(Duration.ofSeconds(-1), () -> null));
    }

    @Test
    void timeLimits_readAsPeopleWriteThem() {
        assertEquals("the job ran past its time limit of 30 s",
                new DeadlineExceededError(Duration.ofSeconds(30)).getMessage());
        assertEquals("the job ran past its time limit of 1.5 s",
                new DeadlineExceededError(Duration.ofMillis(1500)).getMessage());
    }

    @Test
    void shippedEndlessLoop_isStoppedByTheDeadline() throws Exception {
        Supplier<?> endless = shipped(Benign.Endless.class);

        assertTimeoutPreemptively(GENEROUS, () -> assertThrows(DeadlineExceededError.class,
                () -> Deadline.within(Duration.ofMillis(200), endless::get)));
    }

    @Test
    void shippedLoopThatCatchesThrowable_isStoppedByTheDeadline() throws Exception {
        Supplier<?> stubborn = shipped(Benign.Stubborn.class);

        assertTimeoutPreemptively(GENEROUS, () -> assertThrows(DeadlineExceededError.class,
                () -> Deadline.within(Duration.ofMillis(200), stubborn::get)));
        var swallowed = stubborn.getClass().getDeclaredField("swallowed");
        swallowed.setAccessible(true);
        assertEquals(1L, swallowed.getLong(stubborn), "the first timeout is swallowed, the next one escapes");
    }

    @Test
    void shippedTraceBody_isStoppedByTheDeadline_andPrintsToTheJob() throws Exception {
        Supplier<?> trace = shipped(Benign.EndlessTraceBody.class);
        List<String> lines = new ArrayList<>();
        NNsight.wrap(new Linear(2, 2)); // loads libtorch before the clock starts

        assertTimeoutPreemptively(GENEROUS, () -> assertThrows(DeadlineExceededError.class, () -> JobOutput.capturing(
                lines::add, () -> Deadline.within(Duration.ofMillis(500), trace::get))));
        assertEquals(List.of("the body sees 2 features"), lines);
    }

    /** The shipped class, prepared by the sandbox and defined in a job's class loader, as a new instance. */
    static Supplier<?> shipped(Class<?> benign) throws ReflectiveOperationException {
        Class<?> type = new JobClassLoader(Sandbox.server().prepare(ClassFiles.of(Benign.class)).classes(),
                DeadlineTest.class.getClassLoader()).loadClass(benign.getName());
        var constructor = type.getDeclaredConstructor();
        constructor.setAccessible(true);
        return (Supplier<?>) constructor.newInstance();
    }
}
