package io.nnsight.remote.sandbox;

import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.lm.GenerateJob;
import io.nnsight.remote.internal.sandbox.WeightGuard;
import io.nnsight.remote.internal.wire.JobForm;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.spi.ContinuousBatch;
import io.nnsight.spi.TraceBatch;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * Runs continuous batches of generations, as {@link SandboxedExecutor#executeContinuous} describes: epochs of one
 * {@link ContinuousBatch} each, with autograd off (no member's code can use it), while the feed gives jobs or one waits
 * for room. An {@link Epoch} admits the feed's plain generations as members ({@link BatchedJob}) as long as they fit
 * the feed's limits (the first that does not waits, and those after it), tells the feed of each step, checks the
 * weights as each member leaves and gives its outcome to the feed at once; the jobs that did not join, or need a
 * second run, run alone when the epoch ends.
 */
final class ContinuousJobs {
    /** The kind of job a continuous batch holds. */
    static final String GENERATE = "GENERATE";

    /** Its sandbox and weights; it runs the jobs that run alone, and keeps what the last epoch did. */
    private final SandboxedExecutor executor;

    ContinuousJobs(SandboxedExecutor executor) {
        this.executor = executor;
    }

    /** Runs the feed's jobs with {@code runner}, the model's generation loop, epoch after epoch. */
    void run(NNsight model, ContinuousBatch.Runner runner, JobFeed feed) {
        Epoch epoch = new Epoch(model, executor.weights.guard(model), feed);
        int taken;
        do {
            if (executor.weights.lost(model) != null) {
                epoch.runWaitingAlone(); // they fail alone with the reason
            }
            // no member's code uses autograd
            try (PointerScope scope = new PointerScope(); NoGradGuard off = new NoGradGuard()) {
                try {
                    ContinuousBatch.run(model, runner, epoch, feed.epochSteps());
                } catch (RuntimeException | Error e) {
                    epoch.alone.addAll(epoch.running()); // the batch could not run: each runs alone
                    epoch.runWaitingAlone();
                }
            }
            if (epoch.batched > 0) {
                executor.lastEpoch = new SandboxedExecutor.EpochCounts(epoch.batched, epoch.rerun);
            }
            if (!epoch.alone.isEmpty()) {
                feed.runsAlone(epoch.alone.size() - epoch.rerun, epoch.evicted, epoch.rerun);
            }
            epoch.runAlone();
            taken = epoch.taken;
            epoch.reset();
        } while (taken > 0 || epoch.hasWaiting()); // the next epoch, while the feed gives jobs or one waits for room
    }

    /** A member of a continuous batch: its job as taken from the feed, and the job as it runs in the batch. */
    private record Generating(JobFeed.Job job, BatchedJob<Joining> batched) {}

    /** What a continuous batch runs of a job: its generation, with its input prepared (which tells its rows). */
    private record Joining(GenerateJob<?> generation, TraceBatch.PreparedInput input) {
        TraceBatch.Shape shape() {
            return input.shape();
        }
    }

    /**
     * A job taken from the feed that waits for room in the batch ({@link JobFeed#limits()}), with its shape once
     * known (its preparation is dropped when it has to wait, and made again when it joins).
     */
    private record Waiting(JobFeed.Job job, TraceBatch.Shape shape) {}

    /** One epoch of a continuous batch: its members, and the jobs to run alone when it ends. */
    private final class Epoch implements ContinuousBatch.Feed {
        private final NNsight model;
        private final WeightGuard guard;
        private final JobFeed feed;
        private final BatchLimits limits;
        private final Map<ContinuousBatch.Member, Generating> members = new IdentityHashMap<>();
        private final List<JobFeed.Job> alone = new ArrayList<>();
        /** Jobs taken that wait for room, oldest first; they outlive an epoch, their preparation does not. */
        private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
        private Peers peers = new Peers();
        /** Whether the weights changed: no more members join, and those running run again alone. */
        private boolean tainted;
        /** How many jobs it took from the feed, how many of them joined the batch, and how many of those run again. */
        private int taken;
        private int batched;
        private int rerun;
        /** How many of those were evicted. */
        private int evicted;

        Epoch(NNsight model, WeightGuard guard, JobFeed feed) {
            this.model = model;
            this.guard = guard;
            this.feed = feed;
            this.limits = feed.limits();
        }

        /**
         * The jobs that wait for room, then the feed's (asked only when none waits), in order, as long as each fits
         * beside the running members and those joining now ({@link JobFeed#limits()}); the first that does not fit
         * waits, and so do those after it.
         */
        @Override
        public List<ContinuousBatch.Member> admit(int running) {
            if (tainted || executor.weights.lost(model) != null) {
                return List.of();
            }
            if (waiting.isEmpty()) {
                List<JobFeed.Job> jobs = feed.take(running);
                taken += jobs.size();
                for (JobFeed.Job job : jobs) {
                    waiting.add(new Waiting(job, null));
                }
            }
            List<ContinuousBatch.Member> joining = new ArrayList<>();
            int rows = 0; // of the running members, then of those joining too
            for (Generating member : members.values()) {
                rows += member.batched().joins().shape().rows();
            }
            long joiningTokens = 0;
            while (!waiting.isEmpty()) {
                Waiting next = waiting.peek();
                if (next.shape() != null && !fits(next.shape(), rows, joiningTokens)) {
                    break;
                }
                waiting.poll();
                JobFeed.Job job = next.job();
                BatchedJob<Joining> member = BatchedJob.prepare(executor.sandbox, model, GENERATE, job.request(),
                        job.context(), peers, this::joining);
                if (member == null) {
                    alone.add(job);
                    continue;
                }
                TraceBatch.Shape shape = member.joins().shape();
                if (!fits(shape, rows, joiningTokens)) {
                    waitForRoom(job, member, shape);
                    break;
                }
                GenerateJob<?> generation = member.joins().generation();
                ContinuousBatch.Member batched = new ContinuousBatch.Member(new TraceJob<>(generation.model(),
                        generation.input(), generation.body()), generation.generation(), member.body(),
                        member.joins().input());
                members.put(batched, new Generating(job, member));
                joining.add(batched);
                rows += shape.rows();
                joiningTokens += shape.tokens();
                this.batched++;
            }
            return joining;
        }

        /**
         * Whether a job of {@code shape} fits beside the running members and those joining now, of {@code rows} rows
         * together, those joining of {@code joiningTokens} prompt tokens: within the limits, or alone in the batch.
         */
        private boolean fits(TraceBatch.Shape shape, int rows, long joiningTokens) {
            return rows == 0
                    || rows + shape.rows() <= limits.rows() && joiningTokens + shape.tokens() <= limits.tokens();
        }

        /**
         * Puts {@code job} back at the head of the waiting jobs: its preparation is dropped (it is made again when the
         * job joins, in the epoch it joins), and its time limit does not run meanwhile.
         */
        private void waitForRoom(JobFeed.Job job, BatchedJob<Joining> member, TraceBatch.Shape shape) {
            peers.remove(member.body().limit());
            member.output().drop();
            member.code().recycle();
            long limit = Math.min(job.context().timeLimit().toNanos(), Long.MAX_VALUE / 4);
            job.context().progress().deadline(() -> System.nanoTime() + limit);
            waiting.addFirst(new Waiting(job, shape));
        }

        /**
         * What the batch runs of a job of {@code form}: a plain generation (an input) whose input prepares into rows
         * that may share a pass; else {@code null}.
         */
        private Joining joining(JobForm form) {
            if (form.input() == null || !(form.on(model) instanceof GenerateJob<?> generation)) {
                return null;
            }
            TraceBatch.PreparedInput input = TraceBatch.prepare(model, generation.input());
            return input.shape().key() == null ? null : new Joining(generation, input);
        }

        @Override
        public void finished(ContinuousBatch.Member batched, TraceBatch.Outcome outcome) {
            Generating member = members.remove(batched);
            BatchedJob<Joining> job = member.batched();
            peers.remove(job.body().limit());
            JobOutcome result = null;
            String lost = executor.weights.lost(model);
            if (lost != null) {
                result = JobOutcome.failed(JobFailedException.unusableModel(lost, null));
            } else if (!tainted) {
                try {
                    tainted = !executor.weights.restoreIfChanged(model, guard).isEmpty();
                } catch (JobFailedException e) {
                    result = JobOutcome.failed(e);
                }
            }
            if (result == null && !tainted && outcome instanceof TraceBatch.Result value) {
                result = job.encode(model, value.value());
            } else if (result == null && !tainted && outcome instanceof TraceBatch.Failed failed) {
                result = job.failed(failed.error());
            }
            if (result == null) {
                job.output().drop(); // evicted, or run with changed weights: it runs again alone
                alone.add(member.job());
                rerun++;
                if (outcome instanceof TraceBatch.Evicted) {
                    evicted++;
                }
            } else {
                job.output().publish(job.context().log());
                feed.finished(member.job(), result);
            }
        }

        @Override
        public void stepped(int members, int rows, long tokens) {
            feed.stepped(new BatchReport.Forward(members, rows, tokens));
        }

        /** The jobs of members that never got an outcome. */
        List<JobFeed.Job> running() {
            List<JobFeed.Job> jobs = new ArrayList<>();
            for (Generating member : members.values()) {
                member.batched().output().drop();
                jobs.add(member.job());
                rerun++;
            }
            members.clear();
            return jobs;
        }

        /** Whether a job taken waits for room. */
        boolean hasWaiting() {
            return !waiting.isEmpty();
        }

        /** The jobs that wait for room run alone instead, after the epoch. */
        void runWaitingAlone() {
            waiting.forEach(next -> alone.add(next.job()));
            waiting.clear();
        }

        void runAlone() {
            for (JobFeed.Job job : alone) {
                feed.finished(job, executor.runAlone(model, job.request(), job.context()));
            }
        }

        void reset() {
            alone.clear();
            peers = new Peers();
            tainted = false;
            taken = 0;
            batched = 0;
            rerun = 0;
            evicted = 0;
        }
    }
}
