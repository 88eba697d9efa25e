package io.nnsight.remote.sandbox;

import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.lm.GenerateJob;
import io.nnsight.lm.LanguageModel;
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
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.remote.spi.JobProgress;
import io.nnsight.spi.BodyContext;
import io.nnsight.spi.ContinuousBatch;
import io.nnsight.spi.TraceBatch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
            long end = Deadline.start(context.timeLimit()).end();
            context.progress().deadline(() -> end);
            context.progress().enter(); // alone, the job's code and the model take turns: all of it counts as its own
            // Reading the values may run shipped code too (an enum's initializer): all of it within the limit.
            return Deadline.within(context.timeLimit(), () -> JobOutput.capturing(context.log(), () -> {
                Object[] graph = values(code, model);
                Object result = job(envelope.kind(), model, graph).run();
                Object[] captured = code.lambdas().capturedBy(graph[2]);
                return ResultPayload.write(ValueGraphs.write(new Object[] {result, captured}, code.loader().forValues(),
                        model, code.lambdas()));
            }));
        } catch (Throwable e) {
            throw failure(e, context, code);
        } finally {
            context.progress().leave();
            restoreWeights(model, guard, context);
        }
    }

    /** What {@link #execute} throws for an error of the job's code, or of reading or writing its values. */
    private static JobFailedException failure(Throwable error, JobContext context, ShippedCode code) {
        if (error instanceof JobFailedException failed) {
            return failed;
        }
        if (error instanceof DeadlineExceededError) {
            return new JobFailedException("the job ran past its time limit of " + context.timeLimit().toSeconds()
                    + " s and was stopped", error);
        }
        if (error instanceof OutOfMemoryError) {
            return new JobFailedException("the job ran out of memory (" + error.getMessage() + ")", error);
        }
        return new JobFailedException(describe(error, code.classNames(), code.loader().getName()), error);
    }

    /**
     * Runs the jobs as {@link #execute} runs each alone, in shared forward passes where it can: the plain traces
     * (kind {@code TRACE}, with an input and no options) that load and whose values read become members, each in
     * its own context (its time limit, its output, its class loader as the context class loader). The rest run
     * alone with {@code execute}, after the batch.
     *
     * <ul>
     *   <li><b>Length buckets.</b> Members are grouped by their input's {@linkplain TraceBatch#shape key} (for a
     *       language model, the padded length: each job's tensors keep the shape they have alone) and each group
     *       runs as one {@link TraceBatch}, one forward pass, in the order of the group's first member. A group
     *       larger than the {@code limits} (rows, or tokens: rows times the padded length) fills several passes, in
     *       order; a job over a limit on its own runs in a pass of its own.
     *   <li><b>Preparation.</b> Each member's classes are loaded and its values read within its own time limit,
     *       with its output captured, as {@code execute} does; a job that fails there runs alone instead, and
     *       gets {@code execute}'s error.
     *   <li><b>Results.</b> Each member's result is encoded in its own context; a member whose trace failed gets
     *       the error {@code execute} gives.
     *   <li><b>Re-runs.</b> A member that was evicted (it stopped the trace, skipped a module, ran a backward
     *       pass, ...), or that failed with the same error as another member (the forward pass itself failed),
     *       runs again alone with {@code execute} from its request bytes. One {@link WeightGuard} check follows
     *       the forward passes; if it finds the weights changed, they are restored and every member runs again
     *       alone, so the job that changed them changes and restores them on its own. No job runs more than twice.
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
        JobOutcome[] outcomes = new JobOutcome[requests.size()];
        List<Member> members = new ArrayList<>();
        List<BatchReport.Forward> passes = new ArrayList<>();
        int evicted = 0;
        int reruns = 0;
        if (!unusable.containsKey(model.root())) {
            WeightGuard guard = guards.computeIfAbsent(model.root(), WeightGuard::new);
            try (PointerScope scope = new PointerScope()) {
                Peers peers = new Peers();
                for (int i = 0; i < requests.size(); i++) {
                    Member member = prepare(model, i, requests.get(i), contexts.get(i), peers);
                    if (member != null) {
                        members.add(member);
                    }
                }
                for (List<Member> forward : forwards(members, limits)) {
                    evicted += runTogether(model, forward, outcomes, peers);
                    passes.add(pass(forward));
                }
            }
            if (!members.isEmpty()) {
                checkWeights(model, guard, members, outcomes);
            }
            for (Member member : members) {
                if (outcomes[member.index] == null) {
                    reruns++;
                    member.output.drop();
                } else {
                    member.output.publish(member.context.log());
                }
            }
        }
        for (int i = 0; i < requests.size(); i++) {
            if (outcomes[i] == null) {
                try {
                    outcomes[i] = JobOutcome.succeeded(execute(model, requests.get(i), contexts.get(i)));
                } catch (JobFailedException e) {
                    outcomes[i] = JobOutcome.failed(e);
                }
            }
        }
        return new BatchReport(List.of(outcomes), passes, requests.size() - members.size(), evicted, reruns);
    }

    /** What one forward pass of {@code members} held. */
    private static BatchReport.Forward pass(List<Member> members) {
        int rows = 0;
        long tokens = 0;
        for (Member member : members) {
            rows += member.shape.rows();
            tokens += member.shape.tokens();
        }
        return new BatchReport.Forward(members.size(), rows, tokens);
    }

    /**
     * The forward passes that run {@code members}: those of one {@linkplain TraceBatch.Shape#key() key} together,
     * in the order of each key's first member, so that no job's tensors are padded to another job's length; a key's
     * members, in order, fill one pass up to the {@code limits} in rows and tokens, then the next. A member over
     * either limit on its own gets a pass of its own.
     */
    private static List<List<Member>> forwards(List<Member> members, BatchLimits limits) {
        Map<Object, List<Member>> byKey = new LinkedHashMap<>();
        for (Member member : members) {
            byKey.computeIfAbsent(member.shape.key(), key -> new ArrayList<>()).add(member);
        }
        List<List<Member>> forwards = new ArrayList<>();
        for (List<Member> group : byKey.values()) {
            List<Member> forward = new ArrayList<>();
            long rows = 0;
            long tokens = 0;
            for (Member member : group) {
                TraceBatch.Shape shape = member.shape;
                if (!forward.isEmpty()
                        && (rows + shape.rows() > limits.rows() || tokens + shape.tokens() > limits.tokens())) {
                    forwards.add(forward);
                    forward = new ArrayList<>();
                    rows = 0;
                    tokens = 0;
                }
                forward.add(member);
                rows += shape.rows();
                tokens += shape.tokens();
            }
            forwards.add(forward);
        }
        return forwards;
    }

    /** The kind of job a batch may hold. */
    private static final String TRACE = "TRACE";

    /**
     * One job of a batch: its request (for a re-run), its code and values, and its context.
     *
     * @param graph its values, {@code [input, options, body, edits, statics]}
     * @param output its lines, kept until its outcome is known
     */
    private record Member(int index, JobContext context, ShippedCode code, Object[] graph, TraceJob<?> job,
            TraceBatch.Shape shape, JobBody body, JobOutput.Capture output) {}

    /**
     * A member's state, in force while its code runs: its deadline, its output, and its class loader as the
     * thread's context class loader; its {@link JobProgress} says that its code runs (for the server's watchdog).
     */
    private record JobBody(Deadline.Limit limit, JobOutput.Capture output, ClassLoader loader, Peers peers,
            JobProgress progress) implements BodyContext {
        @Override
        public Object enter() {
            Thread thread = Thread.currentThread();
            Previous previous = new Previous(Deadline.enter(limit), JobOutput.enter(output),
                    thread.getContextClassLoader(), System.nanoTime());
            thread.setContextClassLoader(loader);
            progress.enter();
            return previous;
        }

        @Override
        public void leave(Object previous) {
            progress.leave();
            Previous outer = (Previous) previous;
            peers.ran(limit, System.nanoTime() - outer.entered());
            Thread.currentThread().setContextClassLoader(outer.loader());
            JobOutput.leave(outer.output());
            Deadline.leave(outer.limit());
        }

        private record Previous(Deadline.Limit limit, JobOutput.Capture output, ClassLoader loader, long entered) {}
    }

    /**
     * The deadlines of a batch's members, so that each is charged for its own code only: the time one job's code
     * runs (its preparation, its bodies, its encoding) moves every other member's deadline that much later. A
     * forward pass is charged to its members; the time its model runs moves the other members' deadlines later.
     */
    private static final class Peers {
        private final List<Deadline.Limit> limits = new ArrayList<>();
        /** The time charged by {@link #ran} so far, all jobs together. */
        private long charged;

        synchronized void add(Deadline.Limit limit) {
            limits.add(limit);
        }

        /** {@code limit}'s job left the batch: its clock matters no more. */
        synchronized void remove(Deadline.Limit limit) {
            limits.remove(limit);
        }

        /** {@code own}'s job ({@code null}: no member's) ran code for {@code nanos}. */
        synchronized void ran(Deadline.Limit own, long nanos) {
            charged += nanos;
            for (Deadline.Limit limit : limits) {
                if (limit != own) {
                    limit.extend(nanos);
                }
            }
        }

        /** A mark for {@link #ranForward}: the time charged so far. */
        synchronized long mark() {
            return charged;
        }

        /**
         * A forward pass of the members whose deadlines are {@code own} took {@code nanos}, since {@code mark}: the
         * part of it their code did not run (that part was charged by {@link #ran}) moves every other member's
         * deadline later.
         */
        synchronized void ranForward(Set<Deadline.Limit> own, long mark, long nanos) {
            long model = nanos - (charged - mark);
            for (Deadline.Limit limit : limits) {
                if (!own.contains(limit)) {
                    limit.extend(model);
                }
            }
        }
    }

    /**
     * The job as a member of a batch, its classes loaded, its values read and its {@linkplain TraceBatch#shape
     * shape} known, in its own context; {@code null} when it is to run alone: not a plain trace, an input whose
     * rows may not share a pass, or it failed to load or read (alone, it fails the same way).
     */
    private Member prepare(NNsight model, int index, byte[] request, JobContext context, Peers peers) {
        Envelope envelope;
        ShippedCode code;
        long started = System.nanoTime();
        try {
            envelope = Envelope.read(request);
            if (!TRACE.equals(envelope.kind())) {
                return null;
            }
            code = ShippedCode.load(sandbox, envelope);
        } catch (IllegalArgumentException | SandboxException e) {
            return null;
        } finally {
            peers.ran(null, System.nanoTime() - started); // the other members' clocks do not run for this job's check
        }
        JobOutput.Capture output = JobOutput.buffering();
        // as in execute, the clock starts once the classes are loaded
        JobBody body = new JobBody(Deadline.start(context.timeLimit()), output, code.loader(), peers,
                context.progress());
        context.progress().deadline(body.limit()::end);
        Object previous = body.enter();
        try {
            Object[] graph = code.values(model, 5, "a job's [input, options, body, edits, statics]");
            JobForm form = JobForm.read(envelope.kind(), graph);
            if (form.input() != null && form.options() == null && form.on(model) instanceof TraceJob<?> job) {
                TraceBatch.Shape shape = TraceBatch.shape(model, job.input());
                if (shape.key() != null) {
                    peers.add(body.limit());
                    return new Member(index, context, code, graph, job, shape, body, output);
                }
            }
        } catch (Throwable e) {
            // it runs alone, and fails there as it does alone
        } finally {
            body.leave(previous);
        }
        output.drop();
        return null;
    }

    /**
     * Runs the members as one {@link TraceBatch} and sets the outcome of each that needs no re-run: its encoded
     * result or its failure.
     *
     * @return how many members were evicted
     */
    private static int runTogether(NNsight model, List<Member> members, JobOutcome[] outcomes, Peers peers) {
        List<TraceBatch.Member> batch = new ArrayList<>(members.size());
        Set<Deadline.Limit> own = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Member member : members) {
            batch.add(new TraceBatch.Member(member.job, member.body));
            own.add(member.body.limit());
        }
        List<TraceBatch.Outcome> results;
        long mark = peers.mark();
        long started = System.nanoTime();
        try {
            results = TraceBatch.run(model, batch);
        } catch (RuntimeException | Error e) {
            return 0; // the batch could not start: each member runs alone
        } finally {
            peers.ranForward(own, mark, System.nanoTime() - started);
        }
        // The forward pass itself failed (the model threw): each member still running got the same error.
        Set<Throwable> shared = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (TraceBatch.Outcome result : results) {
            if (result instanceof TraceBatch.Failed failed && !seen.add(failed.error())) {
                shared.add(failed.error());
            }
        }
        int evicted = 0;
        for (int k = 0; k < members.size(); k++) {
            Member member = members.get(k);
            TraceBatch.Outcome result = results.get(k);
            if (result instanceof TraceBatch.Result value) {
                outcomes[member.index] = encode(model, member, value.value());
            } else if (result instanceof TraceBatch.Failed failed && !shared.contains(failed.error())) {
                outcomes[member.index] = JobOutcome.failed(failure(failed.error(), member.context, member.code));
            } else if (result instanceof TraceBatch.Evicted) {
                evicted++;
            }
            // evicted, or failed with the forward pass: it runs again alone
        }
        return evicted;
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

    /** The kind of job a continuous batch holds. */
    private static final String GENERATE = "GENERATE";

    /** Plain generations (an input, no set-up body) of a language model whose generations batch continuously. */
    @Override
    public boolean joinsContinuously(NNsight model, byte[] request) {
        if (!(model instanceof LanguageModel lm) || lm.generationRunner().isEmpty()) {
            return false;
        }
        try {
            return GENERATE.equals(Envelope.read(request).kind());
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
     *   <li><b>Alone, after the epoch:</b> a job that is no plain generation or does not load, one that was evicted
     *       (it stopped the run, skipped a module, read the key/value cache, ...) and every job running when the
     *       forward pass failed. Its batched lines are dropped; it starts a fresh clock.
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
        if (runner.isEmpty() || unusable.containsKey(model.root())) {
            JobExecutor.super.executeContinuous(model, feed);
            return;
        }
        WeightGuard guard = guards.computeIfAbsent(model.root(), WeightGuard::new);
        Epoch epoch = new Epoch(model, guard, feed);
        int taken;
        do {
            try (PointerScope scope = new PointerScope()) {
                try {
                    ContinuousBatch.run(model, runner.get(), epoch, feed.epochSteps());
                } catch (RuntimeException | Error e) {
                    epoch.alone.addAll(epoch.running()); // the batch could not run: each runs alone
                }
            }
            if (epoch.batched > 0) {
                lastEpoch = new EpochCounts(epoch.batched, epoch.rerun);
            }
            epoch.runAlone();
            taken = epoch.taken;
            epoch.reset();
        } while (taken > 0); // the next epoch, while the feed gives jobs
    }

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
            if (tainted || unusable.containsKey(model.root())) {
                return List.of();
            }
            List<ContinuousBatch.Member> joining = new ArrayList<>();
            List<JobFeed.Job> jobs = feed.take(running);
            taken += jobs.size();
            for (JobFeed.Job job : jobs) {
                Generating member = prepareGeneration(model, job, peers);
                if (member == null) {
                    alone.add(job);
                } else {
                    GenerateJob<?> generation = member.generation;
                    ContinuousBatch.Member batched = new ContinuousBatch.Member(new TraceJob<>(generation.model(),
                            generation.input(), generation.body()), generation.generation(), member.body);
                    members.put(batched, member);
                    joining.add(batched);
                    this.batched++;
                }
            }
            return joining;
        }

        @Override
        public void finished(ContinuousBatch.Member batched, TraceBatch.Outcome outcome) {
            Generating member = members.remove(batched);
            peers.remove(member.body.limit());
            JobOutcome result = null;
            String lost = unusable.get(model.root());
            if (lost == null && !tainted) {
                try {
                    tainted = !guard.restoreIfChanged().isEmpty();
                } catch (IllegalStateException e) {
                    lost = "model '" + model.key() + "' is unavailable: " + e.getMessage() + "; it serves again after "
                            + "a restart of the server";
                    unusable.put(model.root(), lost);
                }
            }
            if (lost != null) {
                result = JobOutcome.failed(JobFailedException.unusableModel(lost, null));
            } else if (!tainted && outcome instanceof TraceBatch.Result value) {
                result = encode(model, member.body, member.code, member.graph, member.job.context(), value.value());
            } else if (!tainted && outcome instanceof TraceBatch.Failed failed) {
                result = JobOutcome.failed(failure(failed.error(), member.job.context(), member.code));
            }
            if (result == null) {
                member.output.drop(); // evicted, or run with changed weights: it runs again alone
                alone.add(member.job);
                rerun++;
            } else {
                member.output.publish(member.job.context().log());
                feed.finished(member.job, result);
            }
        }

        /** The jobs of members that never got an outcome. */
        List<JobFeed.Job> running() {
            List<JobFeed.Job> jobs = new ArrayList<>();
            for (Generating member : members.values()) {
                member.output.drop();
                jobs.add(member.job);
                rerun++;
            }
            members.clear();
            return jobs;
        }

        void runAlone() {
            for (JobFeed.Job job : alone) {
                JobOutcome outcome;
                try {
                    outcome = JobOutcome.succeeded(execute(model, job.request(), job.context()));
                } catch (JobFailedException e) {
                    outcome = JobOutcome.failed(e);
                }
                feed.finished(job, outcome);
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

    /**
     * A generation of a continuous batch: its job as taken from the feed, its code and values, and its context.
     *
     * @param graph its values, {@code [input, options, body, edits, statics]}
     */
    private record Generating(JobFeed.Job job, ShippedCode code, Object[] graph, GenerateJob<?> generation,
            JobBody body, JobOutput.Capture output) {}

    /**
     * The job as a member of a continuous batch, loaded and read in its own context as {@link #prepare} does; {@code
     * null} when it is to run alone: not a plain generation, or it failed to load or read.
     */
    private Generating prepareGeneration(NNsight model, JobFeed.Job job, Peers peers) {
        Envelope envelope;
        ShippedCode code;
        long started = System.nanoTime();
        try {
            envelope = Envelope.read(job.request());
            if (!GENERATE.equals(envelope.kind())) {
                return null;
            }
            code = ShippedCode.load(sandbox, envelope);
        } catch (IllegalArgumentException | SandboxException e) {
            return null;
        } finally {
            peers.ran(null, System.nanoTime() - started);
        }
        JobOutput.Capture output = JobOutput.buffering();
        JobBody body = new JobBody(Deadline.start(job.context().timeLimit()), output, code.loader(), peers,
                job.context().progress());
        job.context().progress().deadline(body.limit()::end);
        Object previous = body.enter();
        try {
            Object[] graph = code.values(model, 5, "a job's [input, options, body, edits, statics]");
            JobForm form = JobForm.read(envelope.kind(), graph);
            if (form.input() != null && form.on(model) instanceof GenerateJob<?> generation) {
                peers.add(body.limit());
                return new Generating(job, code, graph, generation, body, output);
            }
        } catch (Throwable e) {
            // it runs alone, and fails there as it does alone
        } finally {
            body.leave(previous);
        }
        output.drop();
        return null;
    }

    /** The member's result payload, written in its own context as {@link #execute} writes it. */
    private static JobOutcome encode(NNsight model, Member member, Object result) {
        return encode(model, member.body, member.code, member.graph, member.context, result);
    }

    /** A result payload, written in the job's context ({@code body}) as {@link #execute} writes it. */
    private static JobOutcome encode(NNsight model, JobBody body, ShippedCode code, Object[] graph, JobContext context,
            Object result) {
        Object previous = body.enter();
        try {
            Object[] captured = code.lambdas().capturedBy(graph[2]);
            return JobOutcome.succeeded(ResultPayload.write(ValueGraphs.write(new Object[] {result, captured},
                    code.loader().forValues(), model, code.lambdas())));
        } catch (Throwable e) {
            return JobOutcome.failed(failure(e, context, code));
        } finally {
            body.leave(previous);
        }
    }

    /**
     * The batch's one weight check: if the weights changed, they are restored and every member is to run again
     * alone; if they cannot be, every member fails and the model serves no more jobs.
     */
    private void checkWeights(NNsight model, WeightGuard guard, List<Member> members, JobOutcome[] outcomes) {
        List<String> changed;
        try {
            changed = guard.restoreIfChanged();
        } catch (IllegalStateException e) {
            String why = "model '" + model.key() + "' is unavailable: " + e.getMessage() + "; it serves again after a "
                    + "restart of the server";
            unusable.put(model.root(), why);
            for (Member member : members) {
                outcomes[member.index] = JobOutcome.failed(JobFailedException.unusableModel(why, e));
            }
            return;
        }
        if (!changed.isEmpty()) {
            for (Member member : members) {
                outcomes[member.index] = null;
            }
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
