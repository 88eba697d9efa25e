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
import java.util.function.ToLongFunction;

/**
 * The model of a replica and the executor that runs jobs on it, in the sandbox, as a model server does: one job
 * alone ({@link SandboxedExecutor#execute}); several as a batch ({@link SandboxedExecutor#executeBatch}), whose
 * traces share forward passes and whose generations, when there are several, run as one continuous batch that they
 * all join at its start; a generation that joins by a call of its own, in the continuous batch that such calls share
 * ({@link SandboxedExecutor#executeContinuous}), answered when it leaves. Calls come on several threads at once; the
 * model is used on one ({@link ModelThread}), which also tells how long a job's call has run there. Loaded by the
 * {@link ReplicaActor}'s own class loader, and called through {@link Function} and {@link ToLongFunction} only, so that
 * nothing of its (or nnsight's libraries') classes is shared with Ray's.
 */
public final class Replica implements Function<byte[], byte[]>, ToLongFunction<String> {
    private final LanguageModel model;
    private final SandboxedExecutor executor = new SandboxedExecutor();
    private final ModelThread modelThread;

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
        this.modelThread = new ModelThread(feed -> executor.executeContinuous(this.model, feed));
    }

    /**
     * Runs the jobs of a {@link ReplicaCall} (its bytes) on the model thread: the {@link ReplicaAnswer}'s bytes.
     * Never throws: every failure is an outcome. Thread-safe: calls run at once take turns on the model.
     */
    @Override
    public byte[] apply(byte[] bytes) {
        int jobs = 0;
        try {
            ReplicaCall call = ReplicaCall.read(bytes);
            jobs = call.jobs().size();
            return call.joins() ? modelThread.join(call)
                    : modelThread.run(call.jobs().stream().map(ReplicaCall.Job::id).toList(), () -> run(call));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ReplicaAnswer.failed(jobs, "the replica was stopped while it ran the job", false, List.of()).write();
        } catch (RuntimeException | Error e) { // the replica must answer, whatever happened
            return ReplicaAnswer.failed(jobs, "the replica failed while running the job: " + e, false, List.of()).write();
        }
    }

    /**
     * How long the call of the job {@code id} has run on the model thread, in nanoseconds; {@code -1} while it waits
     * for it, {@code -2} when no call of the job is here ({@link ModelThread#runningFor}).
     */
    @Override
    public long applyAsLong(String id) {
        return modelThread.runningFor(id);
    }

    /** Runs the call's jobs, one alone or several as a batch, on the model thread. */
    private byte[] run(ReplicaCall call) {
        List<List<String>> logs = new ArrayList<>();
        try {
            List<byte[]> requests = new ArrayList<>();
            List<JobContext> contexts = new ArrayList<>();
            for (ReplicaCall.Job job : call.jobs()) {
                List<String> log = Collections.synchronizedList(new ArrayList<>());
                requests.add(job.request());
                contexts.add(new JobContext(job.id(), job.timeLimit(), log::add));
                logs.add(log);
            }
            BatchReport report = requests.size() == 1
                    ? BatchReport.oneAtATime(List.of(alone(requests.get(0), contexts.get(0))))
                    : executor.executeBatch(model, requests, contexts, call.limits());
            return ReplicaAnswer.of(report, logs).write();
        } catch (RuntimeException | Error e) { // the replica must answer, whatever happened
            return ReplicaAnswer.failed(call.jobs().size(), "the replica failed while running the job: " + e, false, logs)
                    .write();
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
