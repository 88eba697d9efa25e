package io.nnsight.server.ray.internal;

import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a replica answers a {@link ReplicaCall}, as the bytes that travel back through Ray: each job's {@link
 * Outcome}, in the call's order, and how the jobs ran (the {@link BatchReport}'s counts, which the server shows in
 * its {@code /status}).
 *
 * @param outcomes each job's outcome, in the order of the call's jobs
 * @param forwards the shared forward passes, as {@link BatchReport#forwards()}
 * @param solo as {@link BatchReport#solo()}
 * @param evicted as {@link BatchReport#evicted()}
 * @param reruns as {@link BatchReport#reruns()}
 * @param continued what the replica's continuous batch did since it last answered a generation ({@link Continued#NONE}
 *     in other answers)
 */
public record ReplicaAnswer(List<Outcome> outcomes, List<BatchReport.Forward> forwards, int solo, int evicted,
        int reruns, Continued continued) {
    /** Copies the lists. */
    public ReplicaAnswer {
        outcomes = List.copyOf(outcomes);
        forwards = List.copyOf(forwards);
        Objects.requireNonNull(continued, "continued");
    }

    /** An answer that tells nothing of a continuous batch. */
    public ReplicaAnswer(List<Outcome> outcomes, List<BatchReport.Forward> forwards, int solo, int evicted,
            int reruns) {
        this(outcomes, forwards, solo, evicted, reruns, Continued.NONE);
    }

    /**
     * What a replica's continuous batch did since it last answered a generation, for the server's {@code /status}:
     * its steps ({@link JobFeed#stepped}) and the counts of its jobs that ran alone ({@link JobFeed#runsAlone}).
     */
    public record Continued(List<BatchReport.Forward> steps, int solo, int evicted, int reruns) {
        /** Nothing done. */
        public static final Continued NONE = new Continued(List.of(), 0, 0, 0);

        /** Copies the list. */
        public Continued {
            steps = List.copyOf(steps);
        }

        /** Tells {@code feed} of it, as the replica's executor told its own feed. */
        void tell(JobFeed feed) {
            steps.forEach(feed::stepped);
            if (solo + reruns > 0) {
                feed.runsAlone(solo, evicted, reruns);
            }
        }
    }

    /** The answer of jobs that ran as {@code report} says, each having printed the lines of {@code logs} (as many). */
    static ReplicaAnswer of(BatchReport report, List<List<String>> logs) {
        return of(report, logs, Continued.NONE);
    }

    /** {@link #of(BatchReport, List)}, telling what the continuous batch did since the previous answer. */
    static ReplicaAnswer of(BatchReport report, List<List<String>> logs, Continued continued) {
        List<Outcome> outcomes = new ArrayList<>(logs.size());
        for (int i = 0; i < logs.size(); i++) {
            JobOutcome outcome = report.outcomes().get(i);
            List<String> log = List.copyOf(logs.get(i));
            JobFailedException failure = outcome.failure();
            outcomes.add(failure == null ? Outcome.succeeded(outcome.result(), log) : Outcome.failed(
                    failure.getMessage() != null ? failure.getMessage() : "the job failed (" + failure.getCause() + ")",
                    failure.modelUnusable(), log));
        }
        return new ReplicaAnswer(outcomes, report.forwards(), report.solo(), report.evicted(), report.reruns(),
                continued);
    }

    /** The answer that fails all {@code jobs} jobs with {@code message}, each having printed the lines of {@code logs}. */
    static ReplicaAnswer failed(int jobs, String message, boolean modelUnusable, List<List<String>> logs) {
        List<Outcome> outcomes = new ArrayList<>(jobs);
        for (int i = 0; i < jobs; i++) {
            outcomes.add(Outcome.failed(message, modelUnusable, i < logs.size() ? List.copyOf(logs.get(i)) : List.of()));
        }
        return new ReplicaAnswer(outcomes, List.of(), jobs, 0, 0);
    }

    /**
     * The server's report of these jobs: each outcome's result, or its failure as a {@link JobFailedException} with
     * the replica's message.
     *
     * @throws IllegalArgumentException when the counts do not add up to the outcomes ({@link BatchReport})
     */
    BatchReport report() {
        List<JobOutcome> jobs = new ArrayList<>(outcomes.size());
        for (Outcome outcome : outcomes) {
            jobs.add(outcome.result() != null ? JobOutcome.succeeded(outcome.result())
                    : JobOutcome.failed(new JobFailedException(outcome.failure())));
        }
        return new BatchReport(jobs, forwards, solo, evicted, reruns);
    }

    byte[] write() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(outcomes.size());
            for (Outcome outcome : outcomes) {
                outcome.write(out);
            }
            writeForwards(out, forwards);
            out.writeInt(solo);
            out.writeInt(evicted);
            out.writeInt(reruns);
            writeForwards(out, continued.steps());
            out.writeInt(continued.solo());
            out.writeInt(continued.evicted());
            out.writeInt(continued.reruns());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** @throws IllegalStateException when {@code bytes} are not an answer {@link #write} wrote */
    static ReplicaAnswer read(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int count = in.readInt();
            List<Outcome> outcomes = new ArrayList<>(Math.min(Math.max(count, 0), 1024));
            for (int i = 0; i < count; i++) {
                outcomes.add(Outcome.read(in));
            }
            List<BatchReport.Forward> forwards = readForwards(in);
            int solo = in.readInt();
            int evicted = in.readInt();
            int reruns = in.readInt();
            List<BatchReport.Forward> steps = readForwards(in);
            Continued continued = new Continued(steps, in.readInt(), in.readInt(), in.readInt());
            return new ReplicaAnswer(outcomes, forwards, solo, evicted, reruns, continued);
        } catch (IOException e) {
            throw new IllegalStateException("a replica's answer is malformed: " + e, e);
        }
    }

    private static void writeForwards(DataOutputStream out, List<BatchReport.Forward> forwards) throws IOException {
        out.writeInt(forwards.size());
        for (BatchReport.Forward forward : forwards) {
            out.writeInt(forward.jobs());
            out.writeInt(forward.rows());
            out.writeLong(forward.tokens());
        }
    }

    private static List<BatchReport.Forward> readForwards(DataInputStream in) throws IOException {
        int count = in.readInt();
        List<BatchReport.Forward> forwards = new ArrayList<>(Math.min(Math.max(count, 0), 1024));
        for (int i = 0; i < count; i++) {
            forwards.add(new BatchReport.Forward(in.readInt(), in.readInt(), in.readLong()));
        }
        return forwards;
    }
}
