package io.nnsight.server.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import org.junit.jupiter.api.Test;

/** Which of a job's status streams gets its result inline, and when the result goes back for a download. */
class SubmittedJobTest {
    private static final byte[] RESULT = {2, 3, 5};

    private static SubmittedJob job() {
        return new SubmittedJob(UUID.randomUUID().toString(), "alice", new byte[] {1}, 1);
    }

    /** The queue's {@code COMPLETED} status; the statuses before it are taken too. */
    private static StatusMessage completed(BlockingQueue<StatusMessage> queue) {
        List<StatusMessage> statuses = new ArrayList<>();
        queue.drainTo(statuses);
        StatusMessage last = statuses.get(statuses.size() - 1);
        assertEquals(JobStatus.COMPLETED, last.status(), statuses.toString());
        return last;
    }

    @Test
    void complete_givesTheResultToTheNewestStream_theOlderGetsNone_andTheResultIsTaken() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> older = job.subscribe(100);
        BlockingQueue<StatusMessage> newer = job.subscribe(100);

        job.complete(RESULT, 3);

        assertArrayEquals(RESULT, completed(newer).inlineResult());
        assertNull(completed(older).result(), "an older stream's client downloads, and finds it taken");
        assertNull(job.takeResult());
    }

    @Test
    void complete_resultLargerThanTheNewestStreamTakes_staysForADownload() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> stream = job.subscribe(2);

        job.complete(RESULT, 3);

        assertNull(completed(stream).result());
        assertArrayEquals(RESULT, job.takeResult());
    }

    @Test
    void subscribe_afterTheJobCompleted_getsTheResultInline() {
        SubmittedJob job = job();
        job.complete(RESULT, 3);

        BlockingQueue<StatusMessage> late = job.subscribe(100);

        assertArrayEquals(RESULT, completed(late).inlineResult());
        assertNull(job.takeResult());
    }

    @Test
    void unsubscribe_ofAStreamThatDidNotSendTheResult_putsItBackForADownload() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> stream = job.subscribe(100);
        BlockingQueue<StatusMessage> lost = job.subscribe(100);
        job.complete(RESULT, 3);

        job.unsubscribe(lost);

        assertNull(completed(stream).result());
        assertArrayEquals(RESULT, job.takeResult());
    }

    @Test
    void unsubscribe_ofTheNewestStreamBeforeTheEnd_makesTheOneBeforeItTheNewest() {
        SubmittedJob job = job();
        BlockingQueue<StatusMessage> first = job.subscribe(100);
        BlockingQueue<StatusMessage> broken = job.subscribe(100);
        job.unsubscribe(broken);

        job.complete(RESULT, 3);

        assertArrayEquals(RESULT, completed(first).inlineResult());
        assertEquals(0, broken.stream().filter(status -> status.status() == JobStatus.COMPLETED).count());
    }
}
