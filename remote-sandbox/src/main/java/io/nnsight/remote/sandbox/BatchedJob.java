package io.nnsight.remote.sandbox;

import io.nnsight.NNsight;
import io.nnsight.remote.internal.sandbox.Deadline;
import io.nnsight.remote.internal.sandbox.JobOutput;
import io.nnsight.remote.internal.sandbox.Sandbox;
import io.nnsight.remote.internal.sandbox.SandboxException;
import io.nnsight.remote.internal.sandbox.ShippedCode;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.JobForm;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.spi.ClientAliases;
import java.util.function.Function;

/**
 * A job that joins a batch (of traces, or a continuous batch of generations), loaded and read in its own context
 * as {@link SandboxedExecutor#execute} reads it alone, and run in that context: its deadline, charged for its own
 * code only ({@link Peers}); its output, buffered until its outcome is known; its class loader ({@link JobBody}).
 *
 * @param graph its values, {@code [input, options, body, edits, renames]}
 * @param joins what the batch runs of it
 * @param <J> what a batch runs of a job
 */
record BatchedJob<J>(JobContext context, ShippedCode code, Object[] graph, J joins, JobBody body,
        JobOutput.Capture output) {
    /**
     * The job of {@code request} as a member of a batch, its classes loaded and its values read in its own context;
     * {@code null} when it is to run alone: not of {@code kind}, its code can use autograd (shared passes run with
     * autograd off), its model has aliases the hosted one lacks ({@link ClientAliases}), {@code joins} gives {@code
     * null} for its form, or it failed to load or read (alone, it fails the same way). Its clock starts once its
     * classes are loaded, as in {@code execute}; the check of its classes is charged to no member.
     *
     * @param joins what the batch runs of the job's form, read in the job's context; {@code null}: it runs alone
     */
    static <J> BatchedJob<J> prepare(Sandbox sandbox, NNsight model, String kind, byte[] request, JobContext context,
            Peers peers, Function<JobForm, J> joins) {
        Envelope envelope;
        ShippedCode code;
        long started = System.nanoTime();
        try {
            envelope = Envelope.read(request);
            if (!kind.equals(envelope.kind())) {
                return null;
            }
            code = ShippedCode.load(sandbox, envelope);
            if (code.usesAutograd()) {
                code.recycle(); // none of its code ran: the job alone takes the loader
                return null;
            }
        } catch (IllegalArgumentException | SandboxException e) {
            return null;
        } finally {
            peers.ran(null, System.nanoTime() - started); // the other members' clocks do not run for this job's check
        }
        JobOutput.Capture output = JobOutput.buffering();
        JobBody body = new JobBody(Deadline.start(context.timeLimit()), output, code.loader(), peers,
                context.progress());
        context.progress().deadline(body.limit()::end);
        Object previous = body.enter();
        try {
            Object[] graph = SandboxedExecutor.values(code, model);
            JobForm form = JobForm.read(kind, graph);
            // a job with aliases of its own runs alone: they belong to the model's tree while it runs
            J joined = ClientAliases.addTo(model, form.renames()) ? null : joins.apply(form);
            if (joined != null) {
                peers.add(body.limit());
                return new BatchedJob<>(context, code, graph, joined, body, output);
            }
            code.recycle(); // its values were read, and it runs alone
        } catch (Throwable e) {
            // it runs alone, and fails there as it does alone
        } finally {
            body.leave(previous);
        }
        output.drop();
        return null;
    }

    /**
     * Its result payload, written in its own context as {@code execute} writes it, or the error it gives; once
     * written, its class loader goes back for the next job of its code ({@link ShippedCode#recycle}). Call it once its
     * code has run.
     */
    JobOutcome encode(NNsight model, Object result) {
        Object previous = body.enter();
        try {
            JobOutcome written = JobOutcome.succeeded(SandboxedExecutor.resultPayload(code, model, graph, result));
            code.recycle();
            return written;
        } catch (Throwable e) {
            return failed(e);
        } finally {
            body.leave(previous);
        }
    }

    /** Its failure from {@code error} of its code, as {@code execute} gives it. */
    JobOutcome failed(Throwable error) {
        return JobOutcome.failed(JobFailures.failure(error, context, code));
    }
}
