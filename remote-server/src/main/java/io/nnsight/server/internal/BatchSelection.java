package io.nnsight.server.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/** Which waiting jobs of a {@link ModelQueue} run together next, in one batch. */
final class BatchSelection {
    private BatchSelection() {}

    /**
     * Takes the jobs that run together next out of {@code queue} (which must not be empty): the oldest job, then
     * younger ones in order while the batch has fewer than {@code maxJobs} jobs. A job whose request is larger than
     * {@code maxRequest} runs alone: as the oldest, it is the whole batch; otherwise it is passed over, as is a job
     * whose request would take the batch's decompressed requests past {@code maxBytes}. A job passed over counts as
     * {@link SubmittedJob#overtaken overtaken} if a younger job is taken; but a job already overtaken {@code
     * fairness} times is never passed over: the batch ends before it. So no job waits behind more than {@code
     * fairness} batches of younger jobs.
     */
    static List<SubmittedJob> take(ArrayDeque<SubmittedJob> queue, int maxJobs, long maxBytes, long maxRequest,
            int fairness) {
        List<SubmittedJob> batch = new ArrayList<>();
        List<SubmittedJob> passed = new ArrayList<>();
        List<SubmittedJob> passedBeforeLast = List.of();
        SubmittedJob head = queue.peekFirst();
        long bytes = 0;
        for (SubmittedJob job : queue) {
            if (batch.size() >= maxJobs || !batch.isEmpty() && head.requestBytes() > maxRequest) {
                break;
            }
            if (job != head && (bytes + job.requestBytes() > maxBytes || job.requestBytes() > maxRequest)) {
                if (job.overtaken >= fairness) {
                    break;
                }
                passed.add(job);
                continue;
            }
            batch.add(job);
            bytes += job.requestBytes();
            passedBeforeLast = List.copyOf(passed);
        }
        for (SubmittedJob job : passedBeforeLast) {
            job.overtaken++;
        }
        queue.removeAll(batch);
        return batch;
    }
}
