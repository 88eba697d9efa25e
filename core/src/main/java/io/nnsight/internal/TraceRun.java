package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.Cache;
import io.nnsight.Inputs;
import io.nnsight.TraceException;
import io.nnsight.internal.engine.Engine;
import io.nnsight.spi.CloseMatches;
import io.nnsight.spi.ContinuousBatch;
import io.nnsight.spi.ModelRunner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;

/**
 * One trace, from the call of {@code trace} to its return: prepares and batches the invokes' inputs, runs
 * the model with an {@link Interleaver}, and cleans up whatever happens (no body left running, no hook
 * active, the trace's native memory freed except for the values it returns or saves).
 */
public final class TraceRun {
    /** One invoke of the trace, before and after the run. */
    public static final class Invocation {
        private final TraceRun run;
        private final String name;
        private final Batchable.Prepared prepared;
        private final Class<?> bodyType;
        private final Supplier<?> body;
        private final boolean edit;
        private final Cohort cohort;
        private Mediator mediator;
        private boolean complete;

        private Invocation(TraceRun run, String name, Batchable.Prepared prepared, Class<?> bodyType, Supplier<?> body,
                boolean edit, Cohort cohort) {
            this.run = run;
            this.cohort = cohort;
            this.name = name;
            this.prepared = prepared;
            this.bodyType = bodyType;
            this.body = body;
            this.edit = edit;
        }

        /**
         * The value the invoke's body returned: once the trace has returned, or inside the body of another invoke
         * of the trace, which waits until this invoke's body has returned.
         *
         * @throws IllegalStateException anywhere else before the trace has returned
         */
        public Object result() {
            if (complete || mediator != null && mediator.isDone()) {
                return mediator.result();
            }
            Mediator asking = mediator == null ? null : run.bodyOnThisThread();
            if (asking == null) {
                throw new IllegalStateException("the result of " + name + " is available inside the body of another "
                        + "invoke of the trace (which waits until " + name + " has returned) or once the trace has "
                        + "returned");
            }
            return asking.awaitResult(mediator);
        }
    }

    private final TraceTarget target;
    /** The target of another wrapper whose envoys this trace serves too, or {@code null}: a scan's model. */
    private final TraceTarget standingInFor;
    private final Engine engine = Engine.current();
    private final TraceMemory memory = new TraceMemory();
    private final Thread caller = Thread.currentThread();
    private final List<Invocation> invocations = new ArrayList<>();
    private final List<Object> saved = new ArrayList<>();

    private volatile Interleaver interleaver;
    /** The backward pass running now, from one of the invokes ({@code tr.backward}), or {@code null}. */
    private GradientRun gradient;
    private Invocation implicit;
    private boolean settingUp;
    private int edits;
    /** The cohorts sharing this run ({@link #executeCohorts}), or {@code null} for a trace of its own. */
    private List<Cohort> cohorts;
    /** The cohort whose edits and set-up body run now, to which the invokes they add belong. */
    private Cohort settingUpCohort;
    /** The failures of a continuous run's cohorts whose stack traces were cleaned (one error may fail several). */
    private final Set<Throwable> cleanedFailures = Collections.newSetFromMap(new IdentityHashMap<>());

    /** A trace of {@code target}, on the calling thread. */
    public TraceRun(TraceTarget target) {
        this(target, null);
    }

    /**
     * A trace of {@code target} that also serves the envoys of the wrapper of {@code standingInFor}, whose modules
     * must be {@code target}'s, in the same order: how a scan runs a wrapper's bodies on a copy of its model on the
     * meta device.
     *
     * @throws IllegalArgumentException when the two wrappers' modules differ
     */
    public TraceRun(TraceTarget target, TraceTarget standingInFor) {
        if (standingInFor != null && !Arrays.equals(target.paths(), standingInFor.paths())) {
            throw new IllegalArgumentException("the model a trace stands in with has other modules than the model it "
                    + "stands in for: " + firstDifference(target.paths(), standingInFor.paths()));
        }
        this.target = target;
        this.standingInFor = standingInFor;
    }

    private static String firstDifference(String[] paths, String[] expected) {
        for (int i = 0; i < Math.min(paths.length, expected.length); i++) {
            if (!paths[i].equals(expected[i])) {
                return "module " + i + " is " + paths[i] + ", not " + expected[i];
            }
        }
        return paths.length + " modules and operations, not " + expected.length;
    }

    TraceTarget target() {
        return target;
    }

    /** The target this trace serves beside its own, or {@code null}. */
    TraceTarget standingInFor() {
        return standingInFor;
    }

    Interleaver interleaver() {
        return interleaver;
    }

    boolean isObserving() {
        Interleaver running = interleaver;
        return running != null && running.isObserving();
    }

    /**
     * Runs the trace.
     *
     * @param input the trace's input: with batch rows, the body becomes the trace's one invoke; without
     *     (options, or {@code null}), the body runs first, on this thread, and sets up invokes
     * @param bodyType the class of the user's body, by which the engine remembers what it needs
     * @param body the trace body
     * @param runner runs the model on the batched inputs (once, or several times, as a generation does)
     * @return the trace's result: the body's return value
     */
    public Object execute(Object input, Class<?> bodyType, Supplier<?> body, ModelRunner runner) {
        Running.begin(this);
        memory.enterThread();
        try {
            Batchable.Prepared options = null;
            if (input != null) {
                Batchable.Prepared prepared = target.batchable().prepare(input);
                if (prepared.batchSize() > 0) {
                    implicit = new Invocation(this, "the trace body", prepared, bodyType, body, false, null);
                    invocations.add(implicit);
                } else {
                    options = prepared;
                }
            }
            Object result = null;
            if (implicit == null) {
                settingUp = true;
                try {
                    result = body.get();
                } finally {
                    settingUp = false;
                }
            }
            runModel(options, runner);
            if (implicit != null) {
                result = implicit.mediator.result();
            }
            keepResults(result);
            return result;
        } catch (Throwable error) {
            StackTraces.clean(error, new Throwable().getStackTrace());
            throw StackTraces.rethrow(error);
        } finally {
            memory.close();
            Running.end(this);
        }
    }

    /**
     * Runs several independent traces, the {@code cohorts}, as one: each in turn adds its edits and prepares its
     * input or runs its set-up body (on this thread, in its context), then one forward pass serves them all, each
     * on its own rows. Afterwards each cohort holds its outcome: its {@linkplain Cohort#result() result}, or its
     * {@linkplain Cohort#failure() failure}, or why it was {@linkplain Cohort#evicted() evicted}. A cohort that
     * fails or is evicted, before the forward or during it, ends alone; the others compute what they compute
     * alone. A cohort whose {@linkplain Batchable#cohortKey key} differs from the first running cohort's (or is
     * {@code null}, after it) is evicted before the forward, and so is one whose input carries options.
     *
     * <p>A failure of the forward pass itself (the model throws) fails every cohort still running with it.
     *
     * @param cohorts the traces, in the order their rows and invokes take
     * @param runner runs the model on the batched inputs
     */
    public void executeCohorts(List<Cohort> cohorts, ModelRunner runner) {
        this.cohorts = cohorts;
        Running.begin(this);
        memory.enterThread();
        try {
            for (Cohort cohort : cohorts) {
                setUp(cohort);
            }
            checkKeys();
            boolean anyLive = false;
            for (Cohort cohort : cohorts) {
                anyLive |= !cohort.ended;
            }
            if (!anyLive) {
                return;
            }
            try {
                runModel(null, runner);
            } catch (Throwable error) {
                for (Cohort cohort : cohorts) {
                    cohort.fail(error);
                }
                return;
            }
            for (Cohort cohort : cohorts) {
                if (cohort.ended) {
                    continue;
                }
                Object result = cohort.implicit != null ? cohort.implicit.mediator.result() : cohort.result();
                cohort.succeed(result);
                memory.keep(result);
                for (Invocation invocation : invocations) {
                    if (invocation.cohort == cohort) {
                        memory.keep(invocation.mediator.result());
                    }
                }
            }
            for (Object value : saved) {
                memory.keep(value);
            }
        } finally {
            // each failure as a trace alone throws it: the engine's frames removed, the caller's appended, once
            Set<Throwable> cleaned = Collections.newSetFromMap(new IdentityHashMap<>());
            StackTraceElement[] callerFrames = new Throwable().getStackTrace();
            for (Cohort cohort : cohorts) {
                if (cohort.failure() != null && cleaned.add(cohort.failure())) {
                    StackTraces.clean(cohort.failure(), callerFrames);
                }
            }
            memory.close();
            Running.end(this);
        }
    }

    /** Where the cohorts of a continuous run come from, and where they go once they end. */
    public interface Admission {
        /** The cohorts to join now, given how many are running; called at step boundaries while the epoch admits. */
        List<Cohort> admit(int running);

        /** {@code cohort} has its outcome; called once per cohort, as soon as it is final. */
        void finished(Cohort cohort);
    }

    /**
     * Runs cohorts that join and leave between forward passes, as {@code runner} lays them out: a continuous batch
     * ({@code spi.ContinuousBatch}). Holds the wrapper's lock until {@code runner} returns. A cohort is set up when
     * it joins, on this thread in its context, as in {@link #executeCohorts}; each forward pass serves the cohorts
     * laid out for it, each at its own iteration; its outcome goes to {@code admission} as soon as it ends. A failure
     * of the runner (the model throws) evicts every cohort still running: alone, each learns whether it is its own.
     *
     * @param epochSteps how many forward passes admit cohorts; afterwards {@code admit} gives none
     */
    public void executeContinuous(ContinuousBatch.Runner runner, Admission admission, int epochSteps) {
        Running.begin(this);
        memory.enterThread();
        StackTraceElement[] callerFrames = new Throwable().getStackTrace();
        Interleaver running = new Interleaver(target, List.of(), 0, GradMode.is_enabled());
        running.continuous();
        interleaver = running;
        List<Cohort> joined = new ArrayList<>();
        Throwable failure = null;
        try {
            runner.run(new Continuous(running, admission, joined, epochSteps, callerFrames));
        } catch (Throwable error) {
            failure = error;
        } finally {
            try {
                for (Cohort cohort : joined) {
                    if (!cohort.reported) {
                        if (failure != null) {
                            cohort.evict("the forward pass it shared failed (" + failure + ")");
                        } else {
                            cohort.fail(new TraceException("the model runner returned before this trace's run was over"));
                        }
                        running.end(cohort);
                        report(cohort, admission, callerFrames);
                    }
                }
            } finally {
                running.cancel();
                interleaver = null;
                for (Invocation invocation : invocations) {
                    invocation.complete = true;
                }
                for (Object value : saved) {
                    memory.keep(value);
                }
                memory.close();
                Running.end(this);
            }
        }
    }

    /** The control a continuous run's runner has. */
    private final class Continuous implements ContinuousBatch.Control {
        private final Interleaver running;
        private final Admission admission;
        private final List<Cohort> joined;
        private final int epochSteps;
        private final StackTraceElement[] callerFrames;
        private int forwards;
        private int live;

        Continuous(Interleaver running, Admission admission, List<Cohort> joined, int epochSteps,
                StackTraceElement[] callerFrames) {
            this.running = running;
            this.admission = admission;
            this.joined = joined;
            this.epochSteps = epochSteps;
            this.callerFrames = callerFrames;
        }

        @Override
        public List<ContinuousBatch.Lane> admit() {
            if (forwards >= epochSteps) {
                return List.of();
            }
            List<ContinuousBatch.Lane> lanes = new ArrayList<>();
            for (Cohort cohort : admission.admit(live)) {
                joined.add(cohort);
                join(cohort);
                if (cohort.ended) {
                    running.end(cohort);
                    report(cohort, admission, callerFrames);
                } else {
                    live++;
                    lanes.add(cohort);
                }
            }
            return lanes;
        }

        /** Sets {@code cohort} up, batches its inputs and starts its bodies; a failure ends it alone. */
        private void join(Cohort cohort) {
            setUp(cohort);
            List<Batchable.Prepared> rows = new ArrayList<>();
            List<Invocation> own = new ArrayList<>();
            for (Invocation invocation : invocations) {
                if (invocation.cohort == cohort) {
                    own.add(invocation);
                    if (invocation.prepared != null) {
                        rows.add(invocation.prepared);
                    }
                }
            }
            if (!cohort.ended) {
                try {
                    cohort.key = target.batchable().cohortKey(rows);
                    if (cohort.key == null) {
                        cohort.evict("the model's inputs do not say that rows may share a forward pass");
                    } else {
                        cohort.inputs = rows.size() == 1 ? rows.get(0).inputs() : target.batchable().combine(rows);
                    }
                } catch (RuntimeException e) {
                    cohort.fail(e);
                }
            }
            if (cohort.ended) {
                invocations.removeAll(own);
                return;
            }
            int size = 0;
            for (Invocation invocation : own) {
                RowRange group = null;
                if (invocation.prepared != null) {
                    group = new RowRange(size, invocation.prepared.batchSize());
                    size += invocation.prepared.batchSize();
                }
                invocation.mediator = new Mediator(invocations.indexOf(invocation), invocation.name, group,
                        invocation.body, cohort);
                cohort.mediators.add(invocation.mediator);
            }
            cohort.size = size;
            for (Invocation invocation : own) {
                Mediator mediator = invocation.mediator;
                String threadName = "nnsight-" + mediator.name().replace(' ', '-');
                mediator.start(running, engine.create(threadName, invocation.bodyType, () -> runBody(mediator)));
            }
            running.join(cohort);
        }

        @Override
        public <T> T forward(List<ContinuousBatch.Lane> lanes, Supplier<T> pass) {
            List<Cohort> present = new ArrayList<>(lanes.size());
            List<Integer> sizes = new ArrayList<>(lanes.size());
            for (ContinuousBatch.Lane lane : lanes) {
                present.add(own(lane));
                sizes.add(lane.size());
            }
            forwards++;
            running.layout(present, sizes);
            try {
                return pass.get();
            } finally {
                running.layout(List.of(), List.of());
            }
        }

        @Override
        public void endSteps(ContinuousBatch.Lane lane) {
            running.endSteps(own(lane));
        }

        @Override
        public void finish(ContinuousBatch.Lane lane) {
            Cohort cohort = own(lane);
            if (cohort.reported) {
                return;
            }
            running.end(cohort);
            if (!cohort.ended) {
                Object result = cohort.implicit != null ? cohort.implicit.mediator.result() : cohort.result();
                cohort.succeed(result);
                memory.keep(result);
                for (Invocation invocation : invocations) {
                    if (invocation.cohort == cohort) {
                        invocation.complete = true;
                        memory.keep(invocation.mediator.result());
                    }
                }
            }
            live--;
            report(cohort, admission, callerFrames);
        }

        @Override
        public void fail(ContinuousBatch.Lane lane, Throwable error) {
            own(lane).fail(error);
            finish(lane);
        }

        private Cohort own(ContinuousBatch.Lane lane) {
            if (!(lane instanceof Cohort) || !joined.contains(lane)) {
                throw new IllegalArgumentException("not a lane of this run: " + lane);
            }
            return (Cohort) lane;
        }
    }

    /** Reports {@code cohort}'s outcome, its failure cleaned as a trace alone throws it. */
    private void report(Cohort cohort, Admission admission, StackTraceElement[] callerFrames) {
        cohort.reported = true;
        if (cohort.failure() != null && cleanedFailures.add(cohort.failure())) {
            StackTraces.clean(cohort.failure(), callerFrames);
        }
        admission.finished(cohort);
    }

    /** Adds {@code cohort}'s edits and invokes, in its context; a failure there ends it alone. */
    private void setUp(Cohort cohort) {
        int before = invocations.size();
        settingUpCohort = cohort;
        Object previous = cohort.context.enter();
        try {
            cohort.addEdits.run();
            if (cohort.input != null) {
                Batchable.Prepared prepared = target.batchable().prepare(cohort.input);
                if (prepared.batchSize() == 0) {
                    cohort.evict("its input carries options for the forward call, which would change every row's");
                } else {
                    cohort.implicit = new Invocation(this, "the trace body", prepared, cohort.bodyType, cohort.body,
                            false, cohort);
                    invocations.add(cohort.implicit);
                }
            } else {
                settingUp = true;
                try {
                    cohort.succeed(cohort.body.get());
                } finally {
                    settingUp = false;
                }
                boolean anyInput = false;
                for (Invocation invocation : invocations.subList(before, invocations.size())) {
                    anyInput |= invocation.prepared != null;
                }
                if (!anyInput) {
                    cohort.fail(new TraceException(cohort.invokes == 0
                            ? "this trace has no input to run the model on: pass one to trace(input, body), or call "
                                    + "tr.invoke(input, body) in the trace body"
                            : "no invoke of this trace has an input, so the model has nothing to run on: at least one "
                                    + "must be tr.invoke(input, body)"));
                }
            }
        } catch (Throwable error) {
            cohort.fail(error);
        } finally {
            cohort.context.leave(previous);
            settingUpCohort = null;
        }
        if (cohort.ended) {
            invocations.subList(before, invocations.size()).clear();
        }
    }

    /** Evicts the cohorts whose key says their rows may not share the first running cohort's forward pass. */
    private void checkKeys() {
        Cohort first = null;
        Object key = null;
        for (Cohort cohort : cohorts) {
            if (cohort.ended) {
                continue;
            }
            List<Batchable.Prepared> rows = new ArrayList<>();
            for (Invocation invocation : invocations) {
                if (invocation.cohort == cohort && invocation.prepared != null) {
                    rows.add(invocation.prepared);
                }
            }
            Object own;
            try {
                own = target.batchable().cohortKey(rows);
            } catch (RuntimeException e) {
                cohort.fail(e);
                continue;
            }
            if (first == null) {
                first = cohort;
                key = own;
            } else if (key == null || !key.equals(own)) {
                cohort.evict(key == null ? "the model's inputs do not say that rows may share a forward pass"
                        : "its input's batching key " + own + " differs from the batch's, " + key);
            }
        }
        invocations.removeIf(invocation -> invocation.cohort != null && invocation.cohort.ended);
    }

    private void runModel(Batchable.Prepared options, ModelRunner runner) {
        List<Batchable.Prepared> rows = new ArrayList<>();
        List<Mediator> mediators = new ArrayList<>(invocations.size());
        int batchSize = 0;
        if (cohorts != null) {
            assignCohortRows();
        }
        for (Invocation invocation : invocations) {
            RowRange group = null;
            if (invocation.prepared != null) {
                group = new RowRange(batchSize, invocation.prepared.batchSize());
                batchSize += invocation.prepared.batchSize();
                rows.add(invocation.prepared);
            } else if (invocation.cohort != null) {
                group = invocation.cohort.rows; // an invoke without input sees its cohort's rows only
            }
            invocation.mediator = new Mediator(mediators.size(), invocation.name, group, invocation.body,
                    invocation.cohort);
            mediators.add(invocation.mediator);
            if (invocation.cohort != null) {
                invocation.cohort.mediators.add(invocation.mediator);
            }
        }
        if (rows.isEmpty()) {
            throw new TraceException(invocations.size() == edits
                    ? "this trace has no input to run the model on: pass one to trace(input, body), or call "
                            + "tr.invoke(input, body) in the trace body"
                    : "no invoke of this trace has an input, so the model has nothing to run on: at least one must be "
                            + "tr.invoke(input, body)");
        }
        Inputs batched = rows.size() == 1 ? rows.get(0).inputs() : target.batchable().combine(rows);
        if (options != null) {
            batched = withOptions(batched, options.inputs());
        }

        Interleaver running = new Interleaver(target, mediators, batchSize, GradMode.is_enabled());
        if (cohorts != null) {
            int live = 0;
            for (Cohort cohort : cohorts) {
                live += cohort.ended ? 0 : 1;
            }
            running.cohorts(live);
        }
        for (Invocation invocation : invocations) {
            Mediator mediator = invocation.mediator;
            String threadName = "nnsight-" + mediator.name().replace(' ', '-');
            mediator.start(running, engine.create(threadName, invocation.bodyType, () -> runBody(mediator)));
        }
        interleaver = running;
        try {
            try {
                running.start();
                if (!running.stopRequested()) {
                    runner.run(batched, this::endSteps);
                }
            } catch (Interleaver.Halt halt) {
                // A body stopped the run or failed; the interleaver knows which.
            }
            if (running.failure() == null) {
                running.end();
            }
        } finally {
            running.cancel();
            interleaver = null;
            for (Invocation invocation : invocations) {
                invocation.complete = true;
            }
        }
        if (running.failure() != null) {
            throw StackTraces.rethrow(running.failure());
        }
    }

    /** Gives each cohort the rows of its invokes with input, which are contiguous. */
    private void assignCohortRows() {
        int next = 0;
        for (Cohort cohort : cohorts) {
            int start = next;
            for (Invocation invocation : invocations) {
                if (invocation.cohort == cohort && invocation.prepared != null) {
                    next += invocation.prepared.batchSize();
                }
            }
            cohort.rows = next > start ? new RowRange(start, next - start) : null;
        }
    }

    private static Inputs withOptions(Inputs batched, Inputs options) {
        if (!options.positional().isEmpty()) {
            throw new IllegalArgumentException("an input without batch rows carries options, which must be named: "
                    + options);
        }
        Map<String, Object> named = new LinkedHashMap<>(batched.named());
        named.putAll(options.named());
        return Inputs.of(batched.positional(), named);
    }

    private Object runBody(Mediator mediator) {
        Running.enter(this);
        PointerScope scope = memory.enterThread();
        mediator.enterThread();
        try {
            return new Signal.Finished(mediator.body().get(), null);
        } catch (Throwable failure) {
            return new Signal.Finished(null, failure);
        } finally {
            mediator.leaveThread();
            memory.leaveThread(scope);
            Running.leave(this);
        }
    }

    private void keepResults(Object result) {
        memory.keep(result);
        for (Object value : saved) {
            memory.keep(value);
        }
        SessionRun session = saved.isEmpty() ? null : Running.sessionHere();
        if (session != null) {
            saved.forEach(session::save);
        }
        for (Invocation invocation : invocations) {
            memory.keep(invocation.mediator.result());
        }
    }

    // ---- what the tracer and envoys ask for ----

    /**
     * Adds an invoke; only in a trace body that was given no input, before the model runs.
     *
     * @param input the invoke's input, or {@code null} for an invoke that sees the whole batch
     * @param bodyType the class of the user's body (not of a wrapper around it), by which the engine
     *     remembers what it needs
     */
    public Invocation addInvoke(Object input, Class<?> bodyType, Supplier<?> body) {
        if (!settingUp || Thread.currentThread() != caller) {
            if (isEditRunning()) {
                throw new TraceException("tr.invoke(...) inside an edit: an edit is itself an invoke without input, run "
                        + "before the trace's own invokes; it cannot add invokes.");
            }
            if (implicit != null) {
                throw new TraceException("tr.invoke(...) inside an invoke: this trace was given an input, so its body is "
                        + "itself an invoke. To batch several inputs, pass no input to trace and call tr.invoke(input, "
                        + "body) for each one.");
            }
            throw new TraceException("tr.invoke(...) inside an invoke: invokes are set up in the trace body, before "
                    + "the model runs, not inside other invokes.");
        }
        Batchable.Prepared prepared = null;
        if (input != null) {
            prepared = target.batchable().prepare(input);
            if (prepared.batchSize() == 0) {
                throw new IllegalArgumentException("the input of an invoke must add batch rows; " + prepared.inputs()
                        + " has none (options belong to trace(options, body))");
            }
        }
        Cohort cohort = settingUpCohort;
        int number = cohort == null ? invocations.size() - edits : cohort.invokes++;
        Invocation invocation = new Invocation(this, "invoke " + number, prepared, bodyType, body, false, cohort);
        invocations.add(invocation);
        return invocation;
    }

    /**
     * Adds a persistent edit of the wrapper ({@code NNsight.edit}): an invoke without input, served before
     * the trace's own invokes. Edits are added before {@link #execute}, in the order they run.
     *
     * @param bodyType the class of the user's edit body, by which the engine remembers what it needs
     * @param body runs the edit; its result is discarded
     */
    public void addEdit(Class<?> bodyType, Supplier<?> body) {
        Cohort cohort = settingUpCohort;
        int number = cohort == null ? edits++ : cohort.edits++;
        invocations.add(new Invocation(this, "edit " + number, null, bodyType, body, true, cohort));
    }

    private boolean isEditRunning() {
        Interleaver running = interleaver;
        Mediator current = running == null ? null : running.current();
        if (current == null || !current.isRunningOnThisThread()) {
            return false;
        }
        for (Invocation invocation : invocations) {
            if (invocation.edit && invocation.mediator == current) {
                return true;
            }
        }
        return false;
    }

    /** The invoke of this trace whose body runs on the calling thread now, or {@code null}. */
    Mediator bodyOnThisThread() {
        Interleaver running = interleaver;
        Mediator mediator = running == null ? null : running.current();
        return mediator != null && mediator.isRunningOnThisThread() ? mediator : null;
    }

    /**
     * Runs a backward pass from {@code metric}, a number the calling invoke's body computed, with {@code body}
     * interleaved: see {@link GradientRun}.
     *
     * @param bodyType the class of the user's body, by which the engine remembers what it needs
     * @return what {@code body} returned
     */
    public Object backward(Tensor metric, Class<?> bodyType, Supplier<?> body) {
        Mediator invoke = requester("tr.backward(...)");
        if (invoke.cohort != null) {
            throw invoke.cohort.evict("it runs a backward pass, over the whole batch's autograd graph");
        }
        if (gradient != null) {
            throw new TraceException("tr.backward(...) inside the body of tr.backward: a backward pass cannot start "
                    + "another; run them one after the other");
        }
        Mediator backward = new Mediator(invoke.order(), "the backward pass of " + invoke.name(), invoke.group(), body);
        GradientRun pass = new GradientRun(interleaver, backward);
        gradient = pass;
        try {
            return pass.execute(metric, engine.create("nnsight-backward-" + invoke.name().replace(' ', '-'), bodyType,
                    () -> runBody(backward)));
        } finally {
            gradient = null;
        }
    }

    /**
     * Starts recording a cache for the calling invoke: every later call of the modules at {@code paths} (every
     * module when empty), their inputs, outputs or both.
     *
     * @return the calls recorded, by path, a live map filled as the model runs
     * @throws IllegalArgumentException when a path names no traceable module (the message lists close matches)
     */
    public Map<String, List<Cache.Call>> cache(List<String> paths, boolean inputs, boolean outputs) {
        Mediator invoke = requester("tr.cache(...)");
        String[] all = target.paths();
        int modules = target.moduleCount();
        boolean[] chosen = null;
        if (!paths.isEmpty()) {
            chosen = new boolean[modules];
            List<String> known = Arrays.asList(all).subList(0, modules);
            for (String path : paths) {
                int index = known.indexOf(path);
                if (index < 0) {
                    List<String> close = CloseMatches.closest(path, known, 3, Math.max(2, path.length() / 3));
                    throw new IllegalArgumentException("tr.cache(...): no traceable module at '" + path + "'"
                            + (close.isEmpty() ? "" : "; close matches: " + String.join(", ", close)));
                }
                chosen[index] = true;
            }
        }
        CacheRecording cache = new CacheRecording(invoke, chosen, inputs, outputs, all, modules);
        interleaver.record(cache);
        if (invoke.cohort != null) {
            invoke.cohort.caches.add(cache);
        }
        return cache.calls();
    }

    /**
     * The invoke whose body calls, for a request named {@code what}.
     *
     * @throws TraceException in the set-up body of a trace without input
     * @throws IllegalStateException on a thread that runs no invoke body of this trace
     */
    public Mediator requester(String what) {
        GradientRun backward = gradient;
        if (backward != null && backward.isBodyRunningHere()) {
            return backward.body();
        }
        Interleaver running = interleaver;
        if (running != null) {
            Mediator mediator = running.current();
            if (mediator != null && mediator.isRunningOnThisThread()) {
                return mediator;
            }
        }
        if (settingUp && Thread.currentThread() == caller) {
            throw new TraceException(what + " must be called inside an invoke: this trace was given no input, so its "
                    + "body only sets up invokes. Move the call into tr.invoke(input, () -> ...).");
        }
        throw new IllegalStateException(what + " can only be called from the body of an invoke of the running trace, "
                + "on the thread that runs it");
    }

    /** Ends the model's forward pass once the calling body hands control back. */
    public void stop() {
        Mediator invoke = requester("tr.stop()");
        if (invoke.cohort != null) {
            throw invoke.cohort.evict("it stops the forward pass, which the others go on with");
        }
        interleaver.stop();
    }

    /**
     * Tells the bodies that the model runner will make no further step; see {@link Interleaver#endSteps()}.
     * Called on the model's thread, between module calls.
     */
    private void endSteps() {
        interleaver.endSteps();
    }

    /** Keeps {@code value} (and the tensors in it) alive after the trace. */
    public void save(Object value) {
        saved.add(value);
    }
}
