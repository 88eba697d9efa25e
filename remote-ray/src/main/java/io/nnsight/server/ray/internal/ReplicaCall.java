package io.nnsight.server.ray.internal;

import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFeed;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What the front end asks a replica to run, as the bytes that travel through Ray (only {@code byte[]} crosses: Ray's
 * object serializer needs the JVM opened to reflection for anything else): one job, or several waiting jobs that the
 * replica runs as a batch, sharing forward passes of at most {@code rows} rows and {@code tokens} tokens, as a model
 * in the server's JVM does; or one generation that joins the replica's continuous batch ({@link #joining}).
 *
 * @param jobs the jobs, in the order their outcomes come back ({@link ReplicaAnswer})
 * @param rows the most batch rows of one forward pass ({@link BatchLimits#rows()}); of a continuous batch, the most its
 *     running jobs hold ({@link JobFeed#limits()})
 * @param tokens the most tokens of one forward pass ({@link BatchLimits#tokens()}); of a continuous batch, the most its
 *     jobs joining at one step boundary hold
 * @param epochSteps {@code 0} when the replica runs the jobs as one batch; otherwise the call's one job joins the
 *     replica's continuous batch of generations at its next step boundary, and this is how many forward passes an
 *     epoch of that batch admits jobs for ({@link JobFeed#epochSteps()})
 */
public record ReplicaCall(List<Job> jobs, int rows, long tokens, int epochSteps) {
    /**
     * One job of a call.
     *
     * @param request its request payload, decompressed
     * @param id its id, for the lines its code prints
     * @param timeLimit how long its code may run
     */
    public record Job(byte[] request, String id, Duration timeLimit) {}

    /** Copies the list and checks that there is a job, and only one if it joins. */
    public ReplicaCall {
        jobs = List.copyOf(jobs);
        if (jobs.isEmpty()) {
            throw new IllegalArgumentException("a call to a replica runs at least one job");
        }
        if (epochSteps < 0 || epochSteps > 0 && jobs.size() != 1) {
            throw new IllegalArgumentException("a call that joins a continuous batch has one job, not " + jobs.size()
                    + ", and epochs of at least one step, not " + epochSteps);
        }
    }

    /** The call that runs {@code requests} in their {@code contexts} (as many) within {@code limits}. */
    static ReplicaCall of(List<byte[]> requests, List<JobContext> contexts, BatchLimits limits) {
        if (requests.size() != contexts.size()) {
            throw new IllegalArgumentException(requests.size() + " requests but " + contexts.size() + " contexts");
        }
        List<Job> jobs = new ArrayList<>(requests.size());
        for (int i = 0; i < requests.size(); i++) {
            jobs.add(new Job(requests.get(i), contexts.get(i).id(), contexts.get(i).timeLimit()));
        }
        return new ReplicaCall(jobs, limits.rows(), limits.tokens(), 0);
    }

    /**
     * The call by which a generation joins its replica's continuous batch, whose epochs last {@code epochSteps}
     * forward passes and whose jobs join within {@code limits} ({@link JobFeed#limits()}); it is answered when the
     * generation leaves the batch.
     */
    static ReplicaCall joining(byte[] request, JobContext context, int epochSteps, BatchLimits limits) {
        if (epochSteps <= 0) {
            throw new IllegalArgumentException("epochs of " + epochSteps + " steps");
        }
        return new ReplicaCall(List.of(new Job(request, context.id(), context.timeLimit())), limits.rows(),
                limits.tokens(), epochSteps);
    }

    /** The call's limits: of each forward pass of its batch, or of its continuous batch's ({@link JobFeed#limits()}). */
    BatchLimits limits() {
        return new BatchLimits(rows, tokens);
    }

    /** Whether the call's job joins the replica's continuous batch, rather than running in a batch of the call's. */
    boolean joins() {
        return epochSteps > 0;
    }

    /** The jobs' time limits added up: how long the replica may take before it must have answered, less a grace. */
    Duration timeLimits() {
        return jobs.stream().map(Job::timeLimit).reduce(Duration.ZERO, Duration::plus);
    }

    byte[] write() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(rows);
            out.writeLong(tokens);
            out.writeInt(epochSteps);
            out.writeInt(jobs.size());
            for (Job job : jobs) {
                Outcome.writeBytes(out, job.id().getBytes(StandardCharsets.UTF_8));
                out.writeLong(job.timeLimit().toMillis());
                Outcome.writeBytes(out, job.request());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** @throws IllegalArgumentException when {@code bytes} are not a call {@link #write} wrote */
    static ReplicaCall read(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int rows = in.readInt();
            long tokens = in.readLong();
            int epochSteps = in.readInt();
            int count = in.readInt();
            List<Job> jobs = new ArrayList<>(Math.min(Math.max(count, 0), 1024));
            for (int i = 0; i < count; i++) {
                String id = new String(Outcome.readBytes(in), StandardCharsets.UTF_8);
                Duration timeLimit = Duration.ofMillis(in.readLong());
                jobs.add(new Job(Outcome.readBytes(in), id, timeLimit));
            }
            return new ReplicaCall(jobs, rows, tokens, epochSteps);
        } catch (IOException e) {
            throw new IllegalArgumentException("a call to a replica is malformed: " + e, e);
        }
    }
}
