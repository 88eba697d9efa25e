package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class JobOutputTest {
    @Test
    void streams_outsideAJob_areTheSystemsStreams() {
        assertSame(System.out, JobOutput.out());
        assertSame(System.err, JobOutput.err());
    }

    @Test
    void capturing_passesEachLine_andTheUnfinishedLastOne() throws Exception {
        List<String> lines = new ArrayList<>();

        String result = JobOutput.capturing(lines::add, () -> {
            JobOutput.out().print("one\ntwo\r\n");
            JobOutput.err().println("héllo ✓");
            JobOutput.out().print("unfinished");
            return "result";
        });

        assertEquals("result", result);
        assertEquals(List.of("one", "two", "héllo ✓", "unfinished"), lines);
        assertSame(System.out, JobOutput.out());
    }

    @Test
    void capturing_reachesThreadsStartedByTheJob() throws Exception {
        List<String> lines = new ArrayList<>();

        JobOutput.capturing(lines::add, () -> {
            Thread child = new Thread(() -> JobOutput.out().println("from a thread of the job"));
            child.start();
            child.join();
            return null;
        });

        assertEquals(List.of("from a thread of the job"), lines);
    }

    @Test
    void capturing_dropsWhatALeftoverThreadPrintsAfterTheJob_onAStreamUsedBeforeOrNot() throws Exception {
        List<String> lines = new ArrayList<>();
        java.util.concurrent.CountDownLatch jobEnded = new java.util.concurrent.CountDownLatch(1);
        Thread[] leftover = new Thread[1];

        JobOutput.capturing(lines::add, () -> {
            JobOutput.out().println("during the job");
            leftover[0] = new Thread(() -> {
                awaitQuietly(jobEnded);
                JobOutput.out().println("after, on out");
                JobOutput.err().println("after, on err, first used now");
            });
            leftover[0].start();
            return null;
        });
        jobEnded.countDown();
        leftover[0].join();

        assertEquals(List.of("during the job"), lines);
    }

    @Test
    void capturing_cutsEndlessLinesBetweenCharacters() throws Exception {
        List<String> lines = new ArrayList<>();

        JobOutput.capturing(lines::add, () -> {
            JobOutput.out().print("é".repeat(40_000));
            return null;
        });

        assertTrue(lines.size() > 1);
        assertEquals("é".repeat(40_000), String.join("", lines));
        lines.forEach(line -> assertTrue(line.getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= 64 * 1024));
    }

    @Test
    void shippedCode_printsToTheJobsLog() throws Exception {
        Supplier<?> prints = DeadlineTest.shipped(Benign.Prints.class);
        List<String> lines = new ArrayList<>();

        JobOutput.capturing(lines::add, prints::get);

        assertEquals(List.of("hello from the job", "a", "b", "partial"), lines);
    }

    @Test
    void buffering_keepsTheLinesUntilPublished_andEnterLeaveRestoreTheOuterStreams() {
        JobOutput.Capture capture = JobOutput.buffering();
        JobOutput.Capture outer = JobOutput.enter(capture);
        JobOutput.out().println("first");
        JobOutput.err().print("unfinished");
        JobOutput.leave(outer);

        assertSame(System.out, JobOutput.out());
        List<String> lines = new ArrayList<>();
        capture.publish(lines::add);
        assertEquals(List.of("first", "unfinished"), lines);
        JobOutput.Capture before = JobOutput.enter(capture);
        JobOutput.out().println("after the end");
        JobOutput.leave(before);
        List<String> again = new ArrayList<>();
        capture.publish(again::add);
        assertEquals(List.of(), again, "published once; nothing after the end");
    }

    @Test
    void buffering_dropped_publishesNothing() {
        JobOutput.Capture capture = JobOutput.buffering();
        JobOutput.Capture outer = JobOutput.enter(capture);
        JobOutput.out().println("dropped");
        JobOutput.leave(outer);

        capture.drop();
        List<String> lines = new ArrayList<>();
        capture.publish(lines::add);

        assertEquals(List.of(), lines);
    }

    @Test
    void buffering_keepsAtMostItsLimit_thenANote() {
        JobOutput.Capture capture = JobOutput.buffering();
        JobOutput.Capture outer = JobOutput.enter(capture);
        String line = "x".repeat(1000);
        for (int i = 0; i < JobOutput.MAX_BUFFERED_CHARS / 1000 + 10; i++) {
            JobOutput.out().println(line);
        }
        JobOutput.leave(outer);

        List<String> lines = new ArrayList<>();
        capture.publish(lines::add);

        assertEquals(JobOutput.MAX_BUFFERED_CHARS / 1000 + 1, lines.size());
        assertTrue(lines.get(lines.size() - 1).contains("the rest is dropped"), lines.get(lines.size() - 1));
    }

    @Test
    void capture_makesEachStreamOnce_atItsFirstUse() {
        JobOutput.Capture capture = JobOutput.buffering();
        JobOutput.Capture outer = JobOutput.enter(capture);
        PrintStream out = JobOutput.out();
        PrintStream err = JobOutput.err();

        assertSame(out, JobOutput.out());
        assertSame(err, JobOutput.err());
        assertNotSame(out, err);
        assertNotSame(System.out, out);
        JobOutput.leave(outer);
        capture.drop();
    }

    @Test
    void capturing_streamFirstPrintedToAfterTheEnd_dropsItsLines() throws Exception {
        List<String> lines = new ArrayList<>();
        CountDownLatch ended = new CountDownLatch(1);
        Thread[] leftRunning = new Thread[1];

        JobOutput.capturing(lines::add, () -> {
            JobOutput.out().println("before the end");
            leftRunning[0] = new Thread(() -> {
                awaitQuietly(ended);
                JobOutput.err().println("after the end");
                JobOutput.err().print("unfinished");
            });
            leftRunning[0].start();
            return null;
        });
        ended.countDown();
        leftRunning[0].join();

        assertEquals(List.of("before the end"), lines);
    }

    @Test
    void end_whileAThreadOfTheJobHoldsAStream_waitsForIt_evenIfItMakesTheOtherStream() throws Exception {
        JobOutput.Capture capture = JobOutput.buffering();
        JobOutput.Capture outer = JobOutput.enter(capture);
        PrintStream out = JobOutput.out();
        CountDownLatch holding = new CountDownLatch(1);
        Thread printer = new Thread(() -> {
            synchronized (out) { // as PrintStream.format holds it while it calls the job's toString()
                holding.countDown();
                sleepQuietly(200);
                JobOutput.err().println("inside");
                out.println("held");
            }
        });
        printer.start();
        JobOutput.leave(outer);
        holding.await();
        List<String> lines = new ArrayList<>();
        Thread ender = new Thread(() -> capture.publish(lines::add));
        ender.start();

        ender.join(10_000);
        printer.join(10_000);
        assertFalse(ender.isAlive() || printer.isAlive(), "ending the capture deadlocked with a printing thread");
        assertEquals(List.of("inside", "held"), lines);
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
