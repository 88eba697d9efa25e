package io.nnsight.remote.sandbox;

import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.lm.GenerateJob;
import io.nnsight.remote.internal.sandbox.WeightGuard;
import io.nnsight.remote.internal.wire.JobForm;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.spi.ContinuousBatch;
import io.nnsight.spi.TraceBatch;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * Runs continuous batches of generations, as {@link SandboxedExecutor#executeContinuous} describes: epochs of one
 * {@link ContinuousBatch} each, with autograd off (no member's code can use it), while the feed gives jobs. An
 * {@link Epoch} admits the feed's plain generations as members ({@link BatchedJob}), checks the weights as each leaves
 * and gives its outcome to the feed at once; the jobs that did not join, or need a second run, run alone when the
 * epoch ends.
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
            // no member's code uses autograd
            try (PointerScope scope = new PointerScope(); NoGradGuard off = new NoGradGuard()) {
                try {
                    ContinuousBatch.run(model, runner, epoch, feed.epochSteps());
                } catch (RuntimeException | Error e) {
                    epoch.alone.addAll(epoch.running()); // the batch could not run: each runs alone
                }
            }
            if (epoch.batched > 0) {
                executor.lastEpoch = new SandboxedExecutor.EpochCounts(epoch.batched, epoch.rerun);
            }
            epoch.runAlone();
            taken = epoch.taken;
            epoch.reset();
        } while (taken > 0); // the next epoch, while the feed gives jobs
    }

    /** A member of a continuous batch: its job as taken from the feed, and the job as it runs in the batch. */
    private record Generating(JobFeed.Job job, BatchedJob<GenerateJob<?>> batched) {}

    /** One epoch of a continuous batch: its members, and the jobs to run alone when it ends. */
    private final class Epoch implements ContinuousBatch.Feed {
        private final NNsight model;
        private final WeightGuard guard;
        private final JobFeed feed;
        private final Map<ContinuousBatch.Member, Generating> members = new IdentityHashMap<>();
        private final List<JobFeed.Job> alone = new ArrayList<>();
        private Peers peers = new Peers();
        /** Whether the weights changed: no more members join, and those running run again alone. */
        private boolean tainted;
        /** How many jobs it took from the feed, how many of them joined the batch, and how many of those run again. */
        private int taken;
        private int batched;
        private int rerun;

        Epoch(NNsight model, WeightGuard guard, JobFeed feed) {
            this.model = model;
            this.guard = guard;
            this.feed = feed;
        }

        @Override
        public List<ContinuousBatch.Member> admit(int running) {
            if (tainted || executor.weights.lost(model) != null) {
                return List.of();
            }
            List<ContinuousBatch.Member> joining = new ArrayList<>();
            List<JobFeed.Job> jobs = feed.take(running);
            taken += jobs.size();
            for (JobFeed.Job job : jobs) {
                BatchedJob<GenerateJob<?>> member = BatchedJob.prepare(executor.sandbox, model, GENERATE,
                        job.request(), job.context(), peers, this::generation);
                if (member == null) {
                    alone.add(job);
                } else {
                    GenerateJob<?> generation = member.joins();
                    ContinuousBatch.Member batched = new ContinuousBatch.Member(new TraceJob<>(generation.model(),
                            generation.input(), generation.body()), generation.generation(), member.body());
                    members.put(batched, new Generating(job, member));
                    joining.add(batched);
                    this.batched++;
                }
            }
            return joining;
        }

        /** The generation a job of {@code form} runs in the batch: a plain one (an input); else {@code null}. */
        private GenerateJob<?> generation(JobForm form) {
            return form.input() != null && form.on(model) instanceof GenerateJob<?> generation ? generation : null;
        }

        @Override
        public void finished(ContinuousBatch.Member batched, TraceBatch.Outcome outcome) {
            Generating member = members.remove(batched);
            BatchedJob<GenerateJob<?>> job = member.batched();
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
            } else {
                job.output().publish(job.context().log());
                feed.finished(member.job(), result);
            }
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
        }
    }
}
