package io.nnsight.remote.sandbox;

import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.remote.internal.sandbox.Deadline;
import io.nnsight.remote.internal.sandbox.DeadlineExceededError;
import io.nnsight.remote.internal.sandbox.JobClassLoader;
import io.nnsight.remote.internal.sandbox.JobOutput;
import io.nnsight.remote.internal.sandbox.Sandbox;
import io.nnsight.remote.internal.sandbox.SandboxException;
import io.nnsight.remote.internal.sandbox.ShippedCode;
import io.nnsight.remote.internal.sandbox.WeightGuard;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.JobForm;
import io.nnsight.remote.internal.wire.ResultPayload;
import io.nnsight.remote.internal.wire.ValueGraphs;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import org.bytedeco.javacpp.PointerScope;

/**
 * The executor of shipped jobs, on a server and in {@code Remote.local()}: it checks the shipped classes
 * ({@link Sandbox}), defines them in a class loader of the job's own that sees only what shipped code may
 * use ({@link JobClassLoader}), rebuilds the job's values there, runs the job on the model within its time
 * limit with its printing captured, and encodes the result. The native memory the job made is freed when
 * it ends, except what the result holds, which is freed once encoded. The model's weights are restored if
 * the job changed them ({@link WeightGuard}). Everything that may run shipped code (reading the request's
 * values, the job, writing the result) runs within the job's time limit, with its output captured.
 */
public final class SandboxedExecutor implements JobExecutor {
    private final Sandbox sandbox = Sandbox.server();
    /** By the wrapper that built the model's tree ({@link NNsight#root()}), which its views and copies share. */
    private final Map<NNsight, WeightGuard> guards = Collections.synchronizedMap(new WeakHashMap<>());
    /** The models whose weights could not be restored, with why: they run no more jobs. */
    private final Map<NNsight, String> unusable = Collections.synchronizedMap(new WeakHashMap<>());

    /** An executor with the server's sandbox policy; a model server builds one unless given another. */
    public SandboxedExecutor() {
        // the weight guards are made per model, at its first job
    }

    @Override
    public byte[] execute(NNsight model, byte[] request, JobContext context) throws JobFailedException {
        String lost = unusable.get(model.root());
        if (lost != null) {
            throw JobFailedException.unusableModel(lost, null);
        }
        Envelope envelope = envelope(request);
        if (!JobForm.isKind(envelope.kind())) {
            throw new JobFailedException("unknown kind of job: " + envelope.kind());
        }
        ShippedCode code;
        try {
            code = ShippedCode.load(sandbox, envelope);
        } catch (IllegalArgumentException | SandboxException e) {
            throw new JobFailedException(e.getMessage(), e);
        }
        WeightGuard guard = guards.computeIfAbsent(model.root(), WeightGuard::new);
        try (PointerScope scope = new PointerScope()) {
            // Reading the values may run shipped code too (an enum's initializer): all of it within the limit.
            return Deadline.within(context.timeLimit(), () -> JobOutput.capturing(context.log(), () -> {
                Object[] graph = values(code, model);
                Object result = job(envelope.kind(), model, graph).run();
                Object[] captured = code.lambdas().capturedBy(graph[2]);
                return ResultPayload.write(ValueGraphs.write(new Object[] {result, captured}, code.loader().forValues(),
                        model, code.lambdas()));
            }));
        } catch (JobFailedException e) {
            throw e;
        } catch (DeadlineExceededError e) {
            throw new JobFailedException("the job ran past its time limit of " + context.timeLimit().toSeconds()
                    + " s and was stopped", e);
        } catch (OutOfMemoryError e) {
            throw new JobFailedException("the job ran out of memory (" + e.getMessage() + ")", e);
        } catch (Throwable e) {
            throw new JobFailedException(describe(e, code.classNames(), code.loader().getName()), e);
        } finally {
            restoreWeights(model, guard, context);
        }
    }

    /** Restores the model's weights after a job; if they cannot be, fails the job and retires the model. */
    private void restoreWeights(NNsight model, WeightGuard guard, JobContext context) throws JobFailedException {
        List<String> changed;
        try {
            changed = guard.restoreIfChanged();
        } catch (IllegalStateException e) {
            String why = "model '" + model.key() + "' is unavailable: " + e.getMessage() + "; it serves again after a "
                    + "restart of the server";
            unusable.put(model.root(), why);
            throw JobFailedException.unusableModel(why, e);
        }
        if (!changed.isEmpty()) {
            context.log().accept("nnsight: the job changed the model's weights (" + String.join(", ", changed)
                    + "); they were restored for the next job");
        }
    }

    private static Envelope envelope(byte[] request) throws JobFailedException {
        try {
            return Envelope.read(request);
        } catch (IllegalArgumentException e) {
            throw new JobFailedException(e.getMessage(), e);
        }
    }

    /** The job's values: {@code [input, options, body, edits, statics]}. */
    private static Object[] values(ShippedCode code, NNsight model) throws JobFailedException {
        try {
            return code.values(model, 5, "a job's [input, options, body, edits, statics]");
        } catch (IllegalArgumentException e) {
            throw new JobFailedException(e.getMessage(), e);
        }
    }

    private static Job<?> job(String kind, NNsight model, Object[] graph) throws JobFailedException {
        try {
            return JobForm.read(kind, graph).on(model);
        } catch (IllegalArgumentException e) {
            throw new JobFailedException(e.getMessage(), e);
        }
    }

    /** The most frames of shipped code an error's description lists per exception. */
    private static final int MAX_FRAMES = 20;

    /**
     * The error as the user would see it locally: its type and message (a libtorch message without its native
     * frames), and the frames of the shipped code, a run of one repeated frame shown once with its count.
     */
    private static String describe(Throwable error, Set<String> shipped, String loader) {
        StringBuilder text = new StringBuilder();
        for (Throwable cause = error; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            text.append(cause == error ? "" : "\nCaused by: ").append(cause.getClass().getName());
            String message = withoutNativeFrames(cause.getMessage());
            if (message != null) {
                text.append(": ").append(message);
            }
            int listed = 0;
            StackTraceElement previous = null;
            int repeats = 0;
            for (StackTraceElement frame : cause.getStackTrace()) {
                // the job's frames only: in Remote.local() the caller's own classes, of the same names, are below
                if (!shipped.contains(frame.getClassName()) || !loader.equals(frame.getClassLoaderName())) {
                    continue;
                }
                if (frame.equals(previous)) {
                    repeats++;
                    continue;
                }
                text.append(repeated(repeats));
                repeats = 0;
                previous = frame;
                if (listed++ == MAX_FRAMES) {
                    text.append("\n\t...");
                    break;
                }
                text.append("\n\tat ").append(frame);
            }
            text.append(repeated(repeats));
        }
        return text.toString();
    }

    private static String repeated(int repeats) {
        return repeats == 0 ? "" : "\n\t(the frame above " + repeats + " more times)";
    }

    /** libtorch appends its C++ frames to an error's message: they say nothing to the user. */
    private static String withoutNativeFrames(String message) {
        if (message == null) {
            return null;
        }
        int end = message.length();
        for (String marker : new String[] {"\nframe #", "\nException raised from"}) {
            int at = message.indexOf(marker);
            if (at >= 0 && at < end) {
                end = at;
            }
        }
        return message.substring(0, end).strip();
    }
}
