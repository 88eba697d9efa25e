package io.nnsight.remote.spi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link JobExecutor#executeBatch}'s default, and {@link JobOutcome}. */
class JobExecutorTest {
    private static JobContext context(String id, List<String> log) {
        return new JobContext(id, Duration.ofSeconds(1), log::add);
    }

    @Test
    void executeBatch_byDefault_executesEachJobInTurn_withItsOwnContext() throws JobFailedException {
        List<String> calls = new ArrayList<>();
        JobFailedException refused = new JobFailedException("refused");
        JobExecutor executor = (model, request, context) -> {
            calls.add(context.id());
            context.log().accept("ran " + context.id());
            if (request.length == 0) {
                throw refused;
            }
            return new byte[] {(byte) (request[0] + 1)};
        };
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();
        List<String> third = new ArrayList<>();

        BatchReport report = executor.executeBatch(null, List.of(new byte[] {1}, new byte[0], new byte[] {5}),
                List.of(context("a", first), context("b", second), context("c", third)), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertEquals(List.of("a", "b", "c"), calls);
        assertArrayEquals(new byte[] {2}, outcomes.get(0).get());
        assertSame(refused, outcomes.get(1).failure());
        assertNull(outcomes.get(1).result());
        assertSame(refused, assertThrows(JobFailedException.class, outcomes.get(1)::get));
        assertArrayEquals(new byte[] {6}, outcomes.get(2).get());
        assertEquals(List.of("ran a"), first);
        assertEquals(List.of("ran b"), second);
        assertEquals(List.of("ran c"), third);
        assertEquals(new BatchReport(outcomes, List.of(), 3, 0, 0), report, "each ran alone");
    }

    @Test
    void report_countsEachJobOnceAsAMemberOfAPassOrSolo() {
        List<JobOutcome> two = List.of(JobOutcome.succeeded(new byte[0]), JobOutcome.succeeded(new byte[0]));
        BatchReport.Forward pass = new BatchReport.Forward(1, 1, 7);

        assertEquals(1, new BatchReport(two, List.of(pass), 1, 1, 1).evicted());
        assertThrows(IllegalArgumentException.class, () -> new BatchReport(two, List.of(pass), 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BatchReport(two, List.of(pass), 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new BatchReport(two, List.of(pass), 1, 0, 2));
    }

    @Test
    void executeBatch_withAContextMissing_isRefused() {
        JobExecutor executor = (model, request, context) -> request;

        assertThrows(IllegalArgumentException.class,
                () -> executor.executeBatch(null, List.of(new byte[0]), List.of(), BatchLimits.DEFAULT));
    }

    @Test
    void outcome_isAResultOrAFailure_exactlyOne() {
        assertThrows(IllegalArgumentException.class, () -> new JobOutcome(null, null));
        assertThrows(IllegalArgumentException.class, () -> new JobOutcome(new byte[0], new JobFailedException("x")));
    }
}
