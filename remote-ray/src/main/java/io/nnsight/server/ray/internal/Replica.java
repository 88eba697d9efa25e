package io.nnsight.server.ray.internal;

import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.safetensors.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The model of a replica and the executor that runs jobs on it, in the sandbox, as a model server does: one job
 * alone ({@link SandboxedExecutor#execute}); several as a batch whose traces share forward passes ({@link
 * SandboxedExecutor#executeBatch}) and whose generations, when there are several, run as one continuous batch
 * ({@link SandboxedExecutor#executeContinuous}) that they all join at its start and leave as each ends. Loaded by the {@link ReplicaActor}'s own class loader, and called through {@link
 * Function} only, so that nothing of its (or nnsight's libraries') classes is shared with Ray's.
 */
public final class Replica implements Function<byte[], byte[]> {
    private final LanguageModel model;
    private final SandboxedExecutor executor = new SandboxedExecutor();

    /**
     * Loads the model.
     *
     * @param tokenizer a {@code tokenizer.json} other than the model's, or {@code ""}
     * @param dtype {@code float32}, {@code bfloat16}, {@code float16}, or {@code ""} for the checkpoint's
     * @param device {@code cpu}, {@code cuda}, {@code cuda:N}
     */
    public Replica(String model, String tokenizer, String dtype, String device) {
        LanguageModel.Options options = LanguageModel.Options.defaults().device(device);
        if (!tokenizer.isEmpty()) {
            options = options.tokenizer(Path.of(tokenizer));
        }
        if (!dtype.isEmpty()) {
            options = options.dtype(DType.parse(dtype));
        }
        this.model = LanguageModel.load(model, options);
    }

    /**
     * Runs the jobs of a {@link ReplicaCall} (its bytes): the {@link ReplicaAnswer}'s bytes. Never throws: every
     * failure is an outcome.
     */
    @Override
    public byte[] apply(byte[] bytes) {
        List<List<String>> logs = new ArrayList<>();
        int jobs = 0;
        try {
            ReplicaCall call = ReplicaCall.read(bytes);
            jobs = call.jobs().size();
            List<byte[]> requests = new ArrayList<>();
            List<JobContext> contexts = new ArrayList<>();
            for (ReplicaCall.Job job : call.jobs()) {
                List<String> log = Collections.synchronizedList(new ArrayList<>());
                requests.add(job.request());
                contexts.add(new JobContext(job.id(), job.timeLimit(), log::add));
                logs.add(log);
            }
            BatchReport report = jobs == 1 ? BatchReport.oneAtATime(List.of(alone(requests.get(0), contexts.get(0))))
                    : batch(requests, contexts, new BatchLimits(call.rows(), call.tokens()));
            return ReplicaAnswer.of(report, logs).write();
        } catch (RuntimeException | Error e) { // the replica must answer, whatever happened
            return ReplicaAnswer.failed(jobs, "the replica failed while running the job: " + e, false, logs).write();
        }
    }

    /**
     * Runs several jobs: the traces with {@link SandboxedExecutor#executeBatch}, then, when there are several, the
     * generations as one continuous batch ({@link SandboxedExecutor#executeContinuous}) that they all join at its
     * first step and leave as each ends; a lone generation runs alone within {@code executeBatch}. The report counts
     * the continuous batch as one forward pass of its jobs, its rows and tokens those of a step when most of them
     * ran (one new token per row), or, if they never ran together, its jobs as alone.
     */
    private BatchReport batch(List<byte[]> requests, List<JobContext> contexts, BatchLimits limits) {
        List<Integer> generations = new ArrayList<>();
        List<Integer> traces = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            byte[] request = requests.get(i);
            boolean joins = executor.joinsContinuously(model, Arrays.copyOf(request, Math.min(request.length,
                    JobExecutor.HEADER_BYTES)));
            (joins ? generations : traces).add(i);
        }
        if (generations.size() < 2) {
            return executor.executeBatch(model, requests, contexts, limits);
        }
        JobOutcome[] outcomes = new JobOutcome[requests.size()];
        List<BatchReport.Forward> forwards = new ArrayList<>();
        int solo = 0;
        int evicted = 0;
        int reruns = 0;
        if (!traces.isEmpty()) {
            BatchReport report = traces.size() == 1
                    ? BatchReport.oneAtATime(List.of(alone(requests.get(traces.get(0)), contexts.get(traces.get(0)))))
                    : executor.executeBatch(model, select(requests, traces), select(contexts, traces), limits);
            for (int i = 0; i < traces.size(); i++) {
                outcomes[traces.get(i)] = report.outcomes().get(i);
            }
            forwards.addAll(report.forwards());
            solo = report.solo();
            evicted = report.evicted();
            reruns = report.reruns();
        }
        List<JobFeed.Job> joining = new ArrayList<>();
        for (int index : generations) {
            joining.add(new JobFeed.Job(requests.get(index), contexts.get(index)));
        }
        Cohort cohort = new Cohort(joining);
        executor.executeContinuous(model, cohort);
        for (int i = 0; i < generations.size(); i++) {
            JobOutcome outcome = cohort.outcomes.get(joining.get(i));
            outcomes[generations.get(i)] = outcome != null ? outcome : JobOutcome.failed(new JobFailedException(
                    "the replica's continuous batch ended without the job's outcome"));
        }
        if (cohort.mostRunning > 1) {
            forwards.add(new BatchReport.Forward(generations.size(), cohort.mostRunning, cohort.mostRunning));
        } else {
            solo += generations.size();
        }
        return new BatchReport(Arrays.asList(outcomes), forwards, solo, evicted, reruns);
    }

    private static <T> List<T> select(List<T> all, List<Integer> indices) {
        return indices.stream().map(all::get).toList();
    }

    /**
     * The generations of one call, as the feed of a continuous batch: all join at its first step boundary, none after;
     * it keeps each job's outcome, and the most jobs that ran at once.
     */
    private static final class Cohort implements JobFeed {
        private List<JobFeed.Job> waiting;
        private final Map<JobFeed.Job, JobOutcome> outcomes = new IdentityHashMap<>();
        private int mostRunning;

        Cohort(List<JobFeed.Job> jobs) {
            this.waiting = jobs;
        }

        @Override
        public List<JobFeed.Job> take(int running) {
            mostRunning = Math.max(mostRunning, running);
            List<JobFeed.Job> joining = waiting;
            waiting = List.of();
            return joining;
        }

        @Override
        public void finished(JobFeed.Job job, JobOutcome outcome) {
            outcomes.put(job, outcome);
        }
    }

    private JobOutcome alone(byte[] request, JobContext context) {
        try {
            return JobOutcome.succeeded(executor.execute(model, request, context));
        } catch (JobFailedException e) {
            return JobOutcome.failed(e);
        }
    }
}
