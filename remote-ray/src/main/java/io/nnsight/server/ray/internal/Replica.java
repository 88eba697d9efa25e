package io.nnsight.server.ray.internal;

import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.safetensors.DType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * The model of a replica and the executor that runs jobs on it, in the sandbox, as a model server does. Loaded by
 * the {@link ReplicaActor}'s own class loader, and called through {@link Function} only, so that nothing of its
 * (or nnsight's libraries') classes is shared with Ray's.
 */
public final class Replica implements Function<Object[], byte[]> {
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
     * Runs a job: {@code [request (decompressed), job id, time limit in milliseconds]}; the {@link Outcome}'s bytes.
     * Never throws: every failure is an outcome.
     */
    @Override
    public byte[] apply(Object[] job) {
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        try {
            byte[] result = executor.execute(model, (byte[]) job[0], new JobContext((String) job[1],
                    Duration.ofMillis((Long) job[2]), log::add));
            return Outcome.succeeded(result, log).write();
        } catch (JobFailedException e) {
            return Outcome.failed(e.getMessage() != null ? e.getMessage() : "the job failed (" + e.getCause() + ")",
                    e.modelUnusable(), log).write();
        } catch (RuntimeException | Error e) { // the replica must answer, whatever happened
            return Outcome.failed("the replica failed while running the job: " + e, false, log).write();
        }
    }
}
