package io.nnsight.server.internal;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How long the store keeps ended jobs: for the result's time to live, or briefly once the result is downloaded. */
class JobStoreTest {
    private static final long HOUR = TimeUnit.HOURS.toNanos(1);

    private static SubmittedJob completed(JobStore store) {
        SubmittedJob job = new SubmittedJob(UUID.randomUUID().toString(), "alice", new byte[] {1}, 1);
        store.add(job);
        job.complete(new byte[] {2, 3}, 2);
        return job;
    }

    @Test
    void sweep_downloadedResult_forgetsTheJobAfterTheShortTtl() {
        JobStore store = new JobStore(HOUR, 0);
        SubmittedJob downloaded = completed(store);
        SubmittedJob waiting = completed(store);
        assertNotNull(downloaded.takeResult());

        store.sweep();

        assertNull(store.find(downloaded.id(), "alice"), "a downloaded job goes after the short time to live");
        assertSame(waiting, store.find(waiting.id(), "alice"), "a result not yet downloaded stays for the full hour");
    }

    @Test
    void sweep_resultPutBackAfterAFailedDownload_keepsTheJobForTheFullTtl() {
        JobStore store = new JobStore(HOUR, 0);
        SubmittedJob job = completed(store);
        byte[] result = job.takeResult();
        job.restoreResult(result);

        store.sweep();

        assertSame(job, store.find(job.id(), "alice"));
        assertNotNull(job.takeResult(), "the result can still be downloaded");
    }

    @Test
    void sweep_jobStillRunning_neverExpires() {
        JobStore store = new JobStore(0, 0);
        SubmittedJob running = new SubmittedJob(UUID.randomUUID().toString(), "alice", new byte[] {1}, 1);
        store.add(running);

        store.sweep();

        assertSame(running, store.find(running.id(), "alice"));
    }
}
