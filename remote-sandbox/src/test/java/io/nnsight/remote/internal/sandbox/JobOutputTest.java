package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
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
}
