package io.nnsight.server.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.nnsight.remote.internal.protocol.StatusMessage;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import org.junit.jupiter.api.Test;

/** Which of a job's status streams gets its result inline, and when the result is left for a download. */
class SubmittedJobTest {
    private static final byte[] RESULT = {2, 3, 5};

    private static SubmittedJob job() {
        return new SubmittedJob(UUID.randomUUID().toString(), "alice", new byte[] {1}, 1);
    }

    @Test
    void complete_keepsTheResultForTheNewestStream_notTheOlderNorADownload() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> older = job.subscribe(100);
        BlockingQueue<StatusMessage> newer = job.subscribe(100);

        job.complete(RESULT, 3);

        assertNull(job.takeResult(older), "an older stream sends COMPLETED without the result");
        assertNull(job.takeResult(), "an older stream's client downloads, and finds it taken");
        assertArrayEquals(RESULT, job.takeResult(newer));
    }

    @Test
    void complete_resultLargerThanTheNewestStreamTakes_staysForADownload() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> stream = job.subscribe(2);

        job.complete(RESULT, 3);

        assertNull(job.takeResult(stream));
        assertArrayEquals(RESULT, job.takeResult());
    }

    @Test
    void subscribe_afterTheJobCompleted_getsTheResultInline() {
        SubmittedJob job = job();
        job.complete(RESULT, 3);

        BlockingQueue<StatusMessage> late = job.subscribe(100);

        assertNull(job.takeResult(), "kept for the stream");
        assertArrayEquals(RESULT, job.takeResult(late));
    }

    @Test
    void unsubscribe_ofTheStreamTheResultIsKeptFor_leavesItForADownload() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> stream = job.subscribe(100);
        BlockingQueue<StatusMessage> lost = job.subscribe(100);
        job.complete(RESULT, 3);

        job.unsubscribe(lost);

        assertNull(job.takeResult(stream));
        assertArrayEquals(RESULT, job.takeResult());
    }

    @Test
    void unsubscribe_ofTheNewestStreamBeforeTheEnd_makesTheOneBeforeItTheNewest() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> first = job.subscribe(100);
        BlockingQueue<StatusMessage> broken = job.subscribe(100);
        job.unsubscribe(broken);

        job.complete(RESULT, 3);

        assertNull(job.takeResult(broken));
        assertArrayEquals(RESULT, job.takeResult(first));
    }

    @Test
    void restoreResult_afterTheStreamFailedToSendIt_leavesItForADownload() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> stream = job.subscribe(100);
        job.complete(RESULT, 3);
        byte[] taken = job.takeResult(stream);

        job.restoreResult(taken);

        assertArrayEquals(RESULT, job.takeResult());
    }
}
