package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.Cache;
import io.nnsight.Inputs;
import io.nnsight.TraceException;
import io.nnsight.internal.engine.Engine;
import io.nnsight.spi.CloseMatches;
import io.nnsight.spi.ModelRunner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;

/**
 * One trace, from the call of {@code trace} to its return: prepares and batches the invokes' inputs, runs
 * the model with an {@link Interleaver}, and cleans up whatever happens (no body left running, no hook
 * active, the trace's native memory freed except for the values it returns or saves).
 *
 * <p>Several traces can share one run as its cohorts: {@link CohortRun} runs them in one forward pass,
 * {@link ContinuousRun} lets them join and leave between forward passes. Either sets each cohort up here
 * ({@link #setUp}) and runs the model through this run's invokes.
 */
public final class TraceRun {
    /** One invoke of the trace, before and after the run. */
    public static final class Invocation {
        private final TraceRun run;
        final String name;
        /** Its input, prepared; {@code null} for an invoke without input (an edit among them). */
        final Batchable.Prepared prepared;
        final Class<?> bodyType;
        final Supplier<?> body;
        private final boolean edit;
        /** The cohort it belongs to when several traces share the run, else {@code null}. */
        final Cohort cohort;
        Mediator mediator;
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
    /** The cohort whose edits and set-up body run now, to which the invokes they add belong. */
    private Cohort settingUpCohort;

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
        begin();
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
            runModel(options, null, runner);
            if (implicit != null) {
                result = implicit.mediator.result();
            }
            keepResults(result);
            return result;
        } catch (Throwable error) {
            StackTraces.clean(error, new Throwable().getStackTrace());
            throw StackTraces.rethrow(error);
        } finally {
            end();
        }
    }

    /**
     * Starts the run on the calling thread: takes the wrapper's lock ({@link Running#begin}) and the trace's native
     * memory scope. Every {@code begin} is followed by {@link #end()}.
     */
    void begin() {
        Running.begin(this);
        memory.enterThread();
    }

    /** Ends the run: frees the trace's native memory except for the values it returns or saves, and unlocks. */
    void end() {
        memory.close();
        Running.end(this);
    }

    /**
     * Adds {@code cohort}'s edits and invokes, in its context: its input's invoke (its input prepared here, unless
     * it was given prepared), or those its set-up body adds. A failure there ends it alone, and its invokes are
     * taken out again.
     */
    void setUp(Cohort cohort) {
        int before = invocations.size();
        settingUpCohort = cohort;
        Object previous = cohort.context.enter();
        try {
            cohort.addEdits.run();
            if (cohort.input != null) {
                Batchable.Prepared prepared = cohort.prepared != null ? cohort.prepared
                        : target.batchable().prepare(cohort.input);
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
                    cohort.fail(nothingToRunOn(cohort.invokes > 0));
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

    /** The failure of a trace whose invokes have no input ({@code anyInvoke}) or that has no invoke at all. */
    private static TraceException nothingToRunOn(boolean anyInvoke) {
        return new TraceException(anyInvoke
                ? "no invoke of this trace has an input, so the model has nothing to run on: at least one must be "
                        + "tr.invoke(input, body)"
                : "this trace has no input to run the model on: pass one to trace(input, body), or call "
                        + "tr.invoke(input, body) in the trace body");
    }

    /** The prepared inputs of {@code cohort}'s invokes, in invoke order. */
    List<Batchable.Prepared> inputsOf(Cohort cohort) {
        List<Batchable.Prepared> rows = new ArrayList<>();
        for (Invocation invocation : invocations) {
            if (invocation.cohort == cohort && invocation.prepared != null) {
                rows.add(invocation.prepared);
            }
        }
        return rows;
    }

    /**
     * Batches the invokes' inputs, starts their bodies and runs the model with them interleaved.
     *
     * @param options the options of a trace whose input has no batch rows, or {@code null}
     * @param cohorts the cohorts sharing the run, their rows assigned ({@link CohortRun}), or {@code null}; the
     *     first failure of a body (outside them) or of the model runner is thrown
     */
    void runModel(Batchable.Prepared options, List<Cohort> cohorts, ModelRunner runner) {
        List<Batchable.Prepared> rows = new ArrayList<>();
        List<Mediator> mediators = new ArrayList<>(invocations.size());
        int batchSize = 0;
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
            throw nothingToRunOn(invocations.size() > edits);
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
            startBody(invocation, running);
        }
        attach(running);
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
            detach();
        }
        if (running.failure() != null) {
            throw StackTraces.rethrow(running.failure());
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

    /** The trace's invokes (its edits among them), in the order they are served; live, as they are added. */
    List<Invocation> invocations() {
        return invocations;
    }

    /** Starts the body of {@code invocation}, its mediator made, on a coroutine of the engine, served by {@code running}. */
    void startBody(Invocation invocation, Interleaver running) {
        Mediator mediator = invocation.mediator;
        String threadName = "nnsight-" + mediator.name().replace(' ', '-');
        mediator.start(running, engine.create(threadName, invocation.bodyType, () -> runBody(mediator)));
    }

    /** {@code running} serves this trace's requests from now on. */
    void attach(Interleaver running) {
        interleaver = running;
    }

    /** The model has run: no interleaver serves requests any more, and every invoke's result is final. */
    void detach() {
        interleaver = null;
        for (Invocation invocation : invocations) {
            invocation.complete = true;
        }
    }

    /**
     * Gives {@code cohort}, which ran to its end without failing, its result (its trace body's, or its input's
     * invoke's), and keeps that and its invokes' results after the trace.
     */
    void succeed(Cohort cohort) {
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

    /** Keeps what the bodies saved ({@link #save}) after the trace. */
    void keepSaved() {
        for (Object value : saved) {
            memory.keep(value);
        }
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
        keepSaved();
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

    /**
     * Ends the model's forward pass once the calling body hands control back; for a cohort, ends the cohort's part
     * of it (the others go on; in a continuous run, the cohort leaves at the next step boundary).
     */
    public void stop() {
        Mediator invoke = requester("tr.stop()");
        if (invoke.cohort == null) {
            interleaver.stop();
        } else {
            interleaver.stop(invoke.cohort);
        }
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
