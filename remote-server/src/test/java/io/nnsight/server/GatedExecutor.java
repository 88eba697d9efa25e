package io.nnsight.server;

import io.nnsight.NNsight;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobOutcome;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The real executor, behind gates: the first call waits for {@link #first}, every call of more than one job for
 * {@link #batches}; the size of each call is recorded, in order (a call of {@code execute} is a batch of 1).
 */
final class GatedExecutor implements JobExecutor {
    final SandboxedExecutor real = new SandboxedExecutor();
    final CountDownLatch first = new CountDownLatch(1);
    final CountDownLatch batches = new CountDownLatch(1);
    final List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());

    /** Lets calls of more than one job run at once; the first call still waits for {@link #first}. */
    GatedExecutor openBatches() {
        batches.countDown();
        return this;
    }

    GatedExecutor open() {
        first.countDown();
        batches.countDown();
        return this;
    }

    private void gate(int size) throws InterruptedException {
        boolean firstCall;
        synchronized (sizes) {
            firstCall = sizes.isEmpty();
            sizes.add(size);
        }
        if (firstCall) {
            first.await();
        }
        if (size > 1) {
            batches.await();
        }
    }

    @Override
    public byte[] execute(NNsight model, byte[] request, JobContext context) throws JobFailedException {
        try {
            gate(1);
        } catch (InterruptedException e) {
            throw new JobFailedException("interrupted");
        }
        return real.execute(model, request, context);
    }

    @Override
    public BatchReport executeBatch(NNsight model, List<byte[]> requests, List<JobContext> contexts,
            BatchLimits limits) {
        try {
            gate(requests.size());
        } catch (InterruptedException e) {
            return BatchReport.oneAtATime(Collections.nCopies(requests.size(),
                    JobOutcome.failed(new JobFailedException("interrupted"))));
        }
        return real.executeBatch(model, requests, contexts, limits);
    }
}
