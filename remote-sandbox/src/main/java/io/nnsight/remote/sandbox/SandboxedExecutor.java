package io.nnsight.remote.sandbox;

import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.internal.sandbox.Deadline;
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
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.remote.spi.JobProgress;
import io.nnsight.spi.ClientAliases;
import io.nnsight.spi.ContinuousBatch;
import io.nnsight.spi.TraceBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * The executor of shipped jobs, on a server and in {@code Remote.local()}: it checks the shipped classes
 * ({@link Sandbox}), defines them in a class loader of the job's own that sees only what shipped code may
 * use ({@link JobClassLoader}), rebuilds the job's values there, runs the job on the model within its time
 * limit with its printing captured, and encodes the result. The native memory the job made is freed when
 * it ends, except what the result holds, which is freed once encoded. The model's weights are restored if
 * the job changed them ({@link WeightGuard}). Everything that may run shipped code (reading the request's
 * values, the job, writing the result) runs within the job's time limit, with its output captured.
 *
 * <p>Jobs run alone here ({@link #execute}); co-batched traces in {@code TraceBatches} and continuous batches of
 * generations in {@code ContinuousJobs}, each member prepared, run and encoded in its own context ({@code
 * BatchedJob}), a job's errors described the same way on every path ({@code JobFailures}).
 *
 * <p><b>Autograd.</b> A job runs with autograd off unless its code can use it: run a backward pass, read a gradient,
 * ask whether a tensor requires one ({@link ShippedCode#usesAutograd()}). Code that cannot use it cannot tell, and
 * gets the same values; the forward pass records no graph for a backward pass that never comes, which is about a
 * fifth of a small model's pass, since a hosted model's weights require gradients. A job that can use autograd runs
 * alone, with it on as the server's thread has it, and never shares a forward pass: the shared passes run with
 * autograd off.
 */
public final class SandboxedExecutor implements JobExecutor {
    /** The sandbox policy; {@code TraceBatches} and {@code ContinuousJobs} load their members with it too. */
    final Sandbox sandbox = Sandbox.server();
    /** The models' weight guards, and the models that lost their weights (they run no more jobs); shared likewise. */
    final ModelWeights weights = new ModelWeights();
    private final TraceBatches traceBatches;
    private final ContinuousJobs continuousJobs;

    /** An executor with the server's sandbox policy; a model server builds one unless given another. */
    public SandboxedExecutor() {
        // the weight guards are made per model, at its first job
        traceBatches = new TraceBatches(this);
        continuousJobs = new ContinuousJobs(this);
    }

    @Override
    public byte[] execute(NNsight model, byte[] request, JobContext context) throws JobFailedException {
        String lost = weights.lost(model);
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
        WeightGuard guard = weights.guard(model);
        try (PointerScope scope = new PointerScope();
                NoGradGuard off = code.usesAutograd() ? null : new NoGradGuard()) {
            long end = Deadline.start(context.timeLimit()).end();
            context.progress().deadline(() -> end);
            context.progress().enter(); // alone, the job's code and the model take turns: all of it counts as its own
            // Reading the values may run shipped code too (an enum's initializer): all of it within the limit.
            byte[] result = Deadline.within(context.timeLimit(), () -> JobOutput.capturing(context.log(), () -> {
                Object[] graph = values(code, model);
                return resultPayload(code, model, graph, run(envelope.kind(), model, graph));
            }));
            code.recycle();
            return result;
        } catch (Throwable e) {
            throw JobFailures.failure(e, context, code);
        } finally {
            context.progress().leave();
            restoreWeights(model, guard, context);
        }
    }

    /** The outcome of {@link #execute}: its result, or its failure; for a batch's jobs that run alone. */
    JobOutcome runAlone(NNsight model, byte[] request, JobContext context) {
        try {
            return JobOutcome.succeeded(execute(model, request, context));
        } catch (JobFailedException e) {
            return JobOutcome.failed(e);
        }
    }

    /**
     * Runs the jobs as {@link #execute} runs each alone, in shared forward passes where it can: the traces (kind
     * {@code TRACE}, with an input or a body that sets up its invokes, and no options) that load and whose values
     * read become members, each in its own context (its time limit, its output, its class loader as the context
     * class loader). The rest run alone with {@code execute}, after the batch.
     *
     * <ul>
     *   <li><b>Length buckets.</b> Members are grouped by their input's key, known once the input is {@linkplain
     *       TraceBatch#prepare prepared} (for a language model, the padded length: each job's tensors keep the shape
     *       they have alone; the prepared input is what its forward pass uses, so it is prepared once) and each group
     *       runs as one {@link TraceBatch}, one forward pass, in the order of the group's first member. A group
     *       larger than the {@code limits} (rows, or tokens: rows times the padded length) fills several passes, in
     *       order; a job over a limit on its own runs in a pass of its own. The traces whose body sets up their
     *       invokes (several prompts, say) share passes of their own, of at most {@code limits.rows()} jobs: their
     *       rows are known only once set up, so the pass checks their keys and the limits then ({@link
     *       TraceBatch.Budget}), and evicts those that do not fit, which run again alone.
     *   <li><b>Generations.</b> When several of the jobs are generations that a continuous batch holds ({@link
     *       #joinsContinuously}), they run after the others as one continuous batch ({@link #executeContinuous}) that
     *       they join at its first step, as many as fit the {@code limits} (the rest as others leave), and leave as
     *       each ends. The report counts it as one forward pass of
     *       its jobs whose rows and tokens are those of the step when most of them ran (one new token per row), or,
     *       if they never ran together, its jobs as alone. A lone generation runs alone.
     *   <li><b>Preparation.</b> Each member's classes are loaded and its values read within its own time limit,
     *       with its output captured, as {@code execute} does; a job that fails there runs alone instead, and
     *       gets {@code execute}'s error.
     *   <li><b>Results.</b> Each member's result is encoded in its own context; a member whose trace failed gets
     *       the error {@code execute} gives.
     *   <li><b>Re-runs.</b> A member that was evicted (it skipped a module, ran a backward pass, waited for
     *       attention probabilities, ...), or that failed with the same error as another member (the forward pass
     *       itself failed), runs again alone with {@code execute} from its request bytes. A member that stops its
     *       trace ({@code tr.stop()}) is not evicted: it ends within its pass with what it gets alone. One {@link
     *       WeightGuard} check follows the forward passes; if it finds the weights changed, they are restored and
     *       every member runs again alone, so the job that changed them changes and restores them on its own. No
     *       job runs more than twice.
     *   <li><b>Output.</b> The lines a member prints in the batched attempt are kept and reach its log once its
     *       outcome is known; if it runs again they are dropped, and its log gets the lines of the second run.
     *   <li><b>Memory.</b> One {@link PointerScope} holds the preparations, the batch and the encoding.
     *   <li><b>Time limits.</b> Each member is charged for its own preparation, its own code and its forward
     *       pass, not for its peers' code: the time a peer's code runs, or another group's forward pass, moves the
     *       member's deadline later. A re-run alone starts a fresh clock, as {@code execute} does. Each job's
     *       {@link JobProgress} tells whether its code runs and where its deadline ends.
     * </ul>
     */
    @Override
    public BatchReport executeBatch(NNsight model, List<byte[]> requests, List<JobContext> contexts,
            BatchLimits limits) {
        if (requests.size() != contexts.size()) {
            throw new IllegalArgumentException(requests.size() + " requests but " + contexts.size() + " contexts");
        }
        List<Integer> generations = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            if (joinsContinuously(model, requests.get(i))) { // it reads the header only, no copy of it needed
                generations.add(i);
            }
        }
        return generations.size() < 2 ? traceBatches.run(model, requests, contexts, limits)
                : GenerationCohort.run(this, traceBatches, model, requests, contexts, limits, generations);
    }

    // ---- continuous batches of generations ----

    /**
     * What an epoch of {@link #executeContinuous} did.
     *
     * @param members how many jobs joined its continuous batch
     * @param rerun how many of them ran again alone
     */
    record EpochCounts(int members, int rerun) {}

    /** What the last epoch of {@link #executeContinuous} that had members did; {@code null} before one. */
    volatile EpochCounts lastEpoch;

    /**
     * Generations of a language model whose generations batch continuously, told from the request's header only
     * ({@link Envelope#kind(byte[])}): one that proves no plain generation (an input) once read runs alone there.
     */
    @Override
    public boolean joinsContinuously(NNsight model, byte[] header) {
        return model instanceof LanguageModel lm && lm.generationRunner().isPresent() && generates(header);
    }

    /**
     * Whether the request whose header this is (its first {@link JobExecutor#HEADER_BYTES} bytes, decompressed) is a
     * generation, which joins continuous batches on a model whose generations batch ({@link #joinsContinuously}): for
     * a front end that tells jobs apart without the model, as one in front of replicas does. A header that is not a
     * request's says no; the job fails when it runs.
     */
    public static boolean generates(byte[] header) {
        try {
            return ContinuousJobs.GENERATE.equals(Envelope.kind(header));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Runs the generations the feed gives as one continuous batch ({@link ContinuousBatch}) of epochs of at most 256
     * forward passes each: a job joins at the next step boundary, leaves when its generation is done, and its
     * outcome goes to the feed at once. Each runs as {@link #execute} runs it alone, as in {@link #executeBatch}:
     * prepared and run in its own context (its time limit, charged for its own code and the shared passes, not its
     * peers' code; its output, buffered and published with its outcome; its class loader), its result encoded in
     * it.
     *
     * <ul>
     *   <li><b>Room.</b> The running jobs hold at most the feed's {@link JobFeed#limits() rows} together, and the
     *       jobs joining at one boundary at most its tokens (their prompts run in that step); a job's rows and tokens
     *       are known once its input is prepared, which the batch then uses. A job that does not fit waits, its
     *       preparation dropped and its clock stopped ({@link io.nnsight.remote.spi.JobProgress} tells a deadline its
     *       full limit away), and joins when there is room, prepared again, before any job taken after it; while one
     *       waits, the feed is asked for none. A job over a limit on its own joins once none runs.
     *   <li><b>Alone, after the epoch:</b> a job that is no plain generation, does not load or can use autograd,
     *       one that was evicted (it skipped a module, read the key/value cache, ...) and every job running when the
     *       forward pass failed. Its batched lines are dropped; it starts a fresh clock. A job that stops its run
     *       ({@code tr.stop()}) leaves the batch with what it gets alone.
     *   <li><b>Weights.</b> The {@link WeightGuard} checks the weights as each job leaves (a comparison of version
     *       counters and layouts), before its outcome goes out. Once it finds a change, it restores them, the batch
     *       admits no more jobs, and that job and every job still running run again alone after the epoch, the one
     *       that changed the weights among them. No job runs more than twice.
     * </ul>
     *
     * Models whose generations do not batch ({@code LanguageModel.generationRunner()} is empty) run each job alone.
     */
    @Override
    public void executeContinuous(NNsight model, JobFeed feed) {
        Optional<ContinuousBatch.Runner> runner = model instanceof LanguageModel lm ? lm.generationRunner()
                : Optional.empty();
        if (runner.isEmpty() || weights.lost(model) != null) {
            JobExecutor.super.executeContinuous(model, feed);
            return;
        }
        continuousJobs.run(model, runner.get(), feed);
    }

    /** Restores the model's weights after a job; if they cannot be, fails the job and retires the model. */
    private void restoreWeights(NNsight model, WeightGuard guard, JobContext context) throws JobFailedException {
        List<String> changed = weights.restoreIfChanged(model, guard);
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

    /**
     * The job's values, {@code [input, options, body, edits, renames]}, read once its static fields are set; alone
     * and as a batch's member.
     */
    static Object[] values(ShippedCode code, NNsight model) throws JobFailedException {
        try {
            return code.values(model, 5, "a job's [input, options, body, edits, renames]");
        } catch (IllegalArgumentException e) {
            throw new JobFailedException(e.getMessage(), e);
        }
    }

    /**
     * The result payload of a job's {@code result}, with the values its body's lambdas captured ({@code graph} is
     * its {@linkplain #values values}); alone and as a batch's member, in the job's context.
     */
    static byte[] resultPayload(ShippedCode code, NNsight model, Object[] graph, Object result) {
        Object[] captured = code.lambdas().capturedBy(graph[2]);
        return ResultPayload.write(ValueGraphs.write(new Object[] {result, captured}, code.loader().forValues(), model,
                code.lambdas()));
    }

    /**
     * Runs the job of the graph on {@code model}, with its client's aliases if it has any the model lacks ({@link
     * ClientAliases}: such a job runs alone).
     */
    private static Object run(String kind, NNsight model, Object[] graph) throws JobFailedException {
        JobForm form;
        Job<?> job;
        try {
            form = JobForm.read(kind, graph);
            job = form.on(model);
        } catch (IllegalArgumentException e) {
            throw new JobFailedException(e.getMessage(), e);
        }
        if (!ClientAliases.addTo(model, form.renames())) {
            return job.run();
        }
        boolean[] ran = {false}; // an IllegalArgumentException before the job runs is the aliases'
        try {
            return ClientAliases.during(model, form.renames(), () -> {
                ran[0] = true;
                return job.run();
            });
        } catch (IllegalArgumentException e) {
            if (ran[0]) {
                throw e;
            }
            throw new JobFailedException("the aliases the job's model was given (rename) do not fit " + model.key()
                    + " here: " + e.getMessage(), e);
        }
    }
}
