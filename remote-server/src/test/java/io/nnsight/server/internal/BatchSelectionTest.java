package io.nnsight.server.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Which waiting jobs {@link BatchSelection#take} runs together: in queue order, within the job and byte limits, and
 * never passing over a job more than the fairness bound allows. A recorded order of batches, without threads or time.
 */
class BatchSelectionTest {
    private static SubmittedJob job(int number, long bytes) {
        return new SubmittedJob(Integer.toString(number), "key", new byte[0], bytes);
    }

    private static List<String> ids(List<SubmittedJob> jobs) {
        return jobs.stream().map(SubmittedJob::id).collect(Collectors.toList());
    }

    @Test
    void take_smallJobs_headAndYoungerInOrderUpToMaxJobs() {
        ArrayDeque<SubmittedJob> queue = new ArrayDeque<>();
        for (int i = 0; i < 6; i++) {
            queue.add(job(i, 10));
        }
        assertEquals(List.of("0", "1", "2", "3"), ids(BatchSelection.take(queue, 4, 100, Long.MAX_VALUE, 4)));
        assertEquals(List.of("4", "5"), ids(List.copyOf(queue)));
        assertEquals(List.of("4"), ids(BatchSelection.take(queue, 1, 100, Long.MAX_VALUE, 4)));
    }

    @Test
    void take_jobTooLargeToJoin_passedOverUntilTheBound() {
        ArrayDeque<SubmittedJob> queue = new ArrayDeque<>(List.of(job(0, 60), job(1, 60), job(2, 10)));
        SubmittedJob large = queue.stream().filter(job -> job.id().equals("1")).findFirst().orElseThrow();
        // Job 1 does not fit beside job 0; job 2, younger, does: job 1 is overtaken once.
        assertEquals(List.of("0", "2"), ids(BatchSelection.take(queue, 4, 100, Long.MAX_VALUE, 2)));
        assertEquals(1, large.overtaken);

        // Overtaken as often as the bound allows, it is not passed over again: the batch ends before it.
        queue.clear();
        queue.addAll(List.of(job(3, 60), large, job(4, 10)));
        assertEquals(List.of("3"), ids(BatchSelection.take(queue, 4, 100, Long.MAX_VALUE, 1)));
        assertEquals(1, large.overtaken);
        assertEquals(List.of("1", "4"), ids(BatchSelection.take(queue, 4, 100, Long.MAX_VALUE, 1)));
    }

    @Test
    void take_requestOverTheBatchLimit_runsAlone_andIsPassedOverWithinTheBound() {
        ArrayDeque<SubmittedJob> queue = new ArrayDeque<>(List.of(job(0, 10), job(1, 50), job(2, 10)));
        SubmittedJob large = queue.stream().filter(job -> job.id().equals("1")).findFirst().orElseThrow();
        // Job 1 fits the batch's bytes but is larger than a batched request may be: younger job 2 joins instead.
        assertEquals(List.of("0", "2"), ids(BatchSelection.take(queue, 4, 100, 40, 2)));
        assertEquals(1, large.overtaken);

        // As the oldest, it is a batch of its own.
        queue.add(job(3, 10));
        assertEquals(List.of("1"), ids(BatchSelection.take(queue, 4, 100, 40, 2)));
        assertEquals(List.of("3"), ids(List.copyOf(queue)));
    }

    /**
     * Random arrivals of small, middling and large jobs: every batch starts with the oldest waiting job, keeps queue
     * order, stays within the limits; and no job is overtaken (a batch with a younger job runs while it waits) more
     * than the bound. Without the bound, some jobs are overtaken more often: the rule is what keeps it.
     */
    @Test
    void take_randomArrivals_noJobOvertakenMoreThanTheBound() {
        int bound = 2;
        assertEquals(bound, mostOvertaken(bound, true));
        assertTrue(mostOvertaken(Integer.MAX_VALUE, false) > bound, "the arrivals should overtake jobs without the rule");
    }

    /** Simulates 400 rounds and returns the most times one job was overtaken, checking each batch. */
    private static int mostOvertaken(int fairness, boolean check) {
        Random random = new Random(14);
        long[] sizes = {5, 40, 70};
        int maxJobs = 4;
        long maxBytes = 100;
        ArrayDeque<SubmittedJob> queue = new ArrayDeque<>();
        Map<String, Integer> arrival = new HashMap<>();
        Map<String, Integer> overtaken = new HashMap<>();
        int next = 0;
        int most = 0;
        for (int round = 0; round < 400; round++) {
            for (int arrivals = random.nextInt(4); arrivals > 0; arrivals--) {
                SubmittedJob job = job(next, sizes[random.nextInt(sizes.length)]);
                arrival.put(job.id(), next++);
                queue.add(job);
            }
            if (queue.isEmpty()) {
                continue;
            }
            List<SubmittedJob> waiting = List.copyOf(queue);
            List<SubmittedJob> batch = BatchSelection.take(queue, maxJobs, maxBytes, Long.MAX_VALUE, fairness);
            if (check) {
                assertEquals(waiting.get(0), batch.get(0), "a batch starts with the oldest waiting job");
                assertTrue(batch.size() <= maxJobs);
                assertTrue(batch.stream().mapToLong(SubmittedJob::requestBytes).sum() <= maxBytes, ids(batch).toString());
                List<SubmittedJob> inOrder = waiting.stream().filter(batch::contains).collect(Collectors.toList());
                assertEquals(inOrder, batch, "a batch keeps queue order");
            }
            int youngest = batch.stream().mapToInt(job -> arrival.get(job.id())).max().orElseThrow();
            Set<SubmittedJob> taken = new HashSet<>(batch);
            for (SubmittedJob job : waiting) {
                if (!taken.contains(job) && arrival.get(job.id()) < youngest) {
                    int times = overtaken.merge(job.id(), 1, Integer::sum);
                    most = Math.max(most, times);
                    assertEquals(times, job.overtaken, "the queue counts what the test counts");
                }
            }
        }
        return most;
    }
}
