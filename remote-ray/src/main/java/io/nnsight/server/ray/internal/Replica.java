package io.nnsight.server.ray.internal;

import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.safetensors.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * The model of a replica and the executor that runs jobs on it, in the sandbox, as a model server does: one job
 * alone ({@link SandboxedExecutor#execute}); several as a batch ({@link SandboxedExecutor#executeBatch}), whose
 * traces share forward passes and whose generations, when there are several, run as one continuous batch that they
 * all join at its start. Loaded by the {@link ReplicaActor}'s own class loader, and called through {@link
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
                    : executor.executeBatch(model, requests, contexts, new BatchLimits(call.rows(), call.tokens()));
            return ReplicaAnswer.of(report, logs).write();
        } catch (RuntimeException | Error e) { // the replica must answer, whatever happened
            return ReplicaAnswer.failed(jobs, "the replica failed while running the job: " + e, false, logs).write();
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
