package io.nnsight.internal;

import io.nnsight.Inputs;
import io.nnsight.NotReachedException;
import io.nnsight.OutOfOrderException;
import io.nnsight.TraceException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.bytedeco.pytorch.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model side of one trace: it runs the invokes' bodies in step with the forward pass.
 *
 * <p>Each module call the model makes offers two values, its inputs and then its output, to the bodies
 * that wait for them ({@link Provider}s). At each one the bodies are served in invoke order: a body
 * waiting for exactly this value (module, inputs or output, iteration) gets it, narrowed to its batch
 * rows, and runs until it asks for something else; replacements it makes are what the model continues
 * with. Exactly one side runs at any time.
 *
 * <p>Every call of every module is counted, so a request for a value the model already passed fails at
 * once ({@link OutOfOrderException}), and a request still open when the forward ends fails too ({@link
 * NotReachedException}). Only modules some body waits for do more than count.
 */
public final class Interleaver {
    private static final Logger LOG = LoggerFactory.getLogger(Interleaver.class);
    private static final int CANCEL_ATTEMPTS = 1000;

    /**
     * Thrown from a module hook to end the forward pass early: after {@link #stop()}, when a body
     * failed, or once every cohort has ended or stopped. An {@code Error} so that the model's own {@code
     * catch (Exception e)} lets it pass; it never reaches the user.
     */
    public static final class Halt extends Error {
        private static final long serialVersionUID = 1L;
        private static final Halt INSTANCE = new Halt();

        private Halt() {
            super("the trace ended the forward pass early", null, false, false);
        }
    }

    private final TraceTarget target;
    private final int moduleCount;
    private final Map<String, Integer>[] operationBases;
    private final List<Mediator> mediators;
    /** The rows of the forward pass running now (in a continuous run, of the present cohorts). */
    private int batchSize;
    private final boolean gradEnabled;
    private final Thread modelThread = Thread.currentThread();

    private final int[] inputCalls;
    private final int[] outputCalls;
    private final int[] waiting;
    /**
     * The tensors bodies read, by {@link #key}, kept while autograd records ({@code gradEnabled}): what a backward
     * pass's body may ask the gradient of ({@link GradientRun}).
     */
    private final Map<Long, Tensor> read = new HashMap<>();
    /** The caches being recorded ({@code tr.cache}); usually none. */
    private final List<CacheRecording> caches = new ArrayList<>(0);

    private int[] running = new int[16];
    private int depth;

    private boolean bodyRunning;
    private Mediator current;
    private Provider provider;
    private int live;
    private boolean runEnded;
    private boolean stepsEnded;
    private boolean stopRequested;
    private Throwable failure;
    /** The cohorts still running when several traces share this one ({@link #cohorts(int)}), else -1. */
    private int liveCohorts = -1;
    /** The cohorts that asked to stop ({@link #stop(Cohort)}), to end once the body that asked hands control back. */
    private final List<Cohort> stopping = new ArrayList<>(0);
    /**
     * In a continuous run ({@link #continuous()}), the cohorts the forward pass running now serves and their own call
     * counts; {@code null} in any other run.
     */
    private PassLayout passLayout;
    /** In a continuous run, the cohort whose bodies the value being served now goes to. */
    private Cohort servingCohort;

    /**
     * An interleaver for one trace.
     *
     * @param target the modules (and operations in their code) the trace sees, by index
     * @param mediators the invokes, in order
     * @param batchSize the rows of the batched input
     * @param gradEnabled the autograd mode the bodies run with (the caller's)
     */
    Interleaver(TraceTarget target, List<Mediator> mediators, int batchSize, boolean gradEnabled) {
        this.target = target;
        String[] paths = target.paths();
        this.moduleCount = target.moduleCount();
        this.operationBases = target.operationBases();
        this.mediators = new ArrayList<>(mediators);
        this.batchSize = batchSize;
        this.gradEnabled = gradEnabled;
        this.inputCalls = new int[paths.length];
        this.outputCalls = new int[paths.length];
        this.waiting = new int[paths.length];
        this.live = this.mediators.size();
    }

    boolean gradEnabled() {
        return gradEnabled;
    }

    // ---- the trace's lifecycle ----

    /**
     * The index of operation {@code site} of class {@code className} in the module running now, or -1 when
     * the running module's code has no such operation (or no module runs, or a body runs).
     */
    public int operation(String className, int site) {
        if (depth == 0 || !isObserving()) {
            return -1;
        }
        Map<String, Integer> bases = operationBases[running[depth - 1]];
        Integer base = bases == null ? null : bases.get(className);
        return base == null ? -1 : base + site;
    }

    /**
     * Runs every body until it first waits for the model.
     *
     * @throws Halt when a body failed or stopped the run before the model started
     */
    public void start() {
        for (Mediator mediator : mediators) {
            if (mediator.done) {
                continue; // its cohort ended before it started
            }
            drive(mediator, null);
            haltIfNeeded();
        }
    }

    /** Whether the model should run: no body asked to stop before it started. */
    public boolean stopRequested() {
        return stopRequested;
    }

    /**
     * Called once the forward pass returned or was stopped: answers the bodies still waiting (an open
     * request fails, an iteration loop ends), and lets them run to their end.
     */
    public void end() {
        runEnded = true;
        answerAtEnd(mediators);
    }

    /** Answers the requests {@code bodies} still wait with, as at the end of the run, until none is left. */
    private void answerAtEnd(List<Mediator> bodies) {
        boolean progress = true;
        while (live > 0 && progress) {
            progress = false;
            for (Mediator mediator : bodies) {
                if (mediator.pending instanceof Signal.Wait) {
                    Signal.Wait wait = (Signal.Wait) mediator.pending;
                    unwait(mediator);
                    drive(mediator, wait.action() == Signal.Action.STEP ? Boolean.FALSE : notReached(mediator, wait));
                    progress = true;
                }
            }
            if (!progress) {
                for (Mediator mediator : bodies) {
                    if (mediator.pending instanceof Signal.Completion) {
                        Mediator other = ((Signal.Completion) mediator.pending).of();
                        mediator.pending = null;
                        drive(mediator, RequestFaults.completionNotReached(mediator, other));
                        progress = true;
                        break;
                    }
                    if (mediator.pending instanceof Signal.Arrival) {
                        BarrierState barrier = ((Signal.Arrival) mediator.pending).barrier();
                        mediator.pending = null;
                        drive(mediator, RequestFaults.barrierNotReached(barrier));
                        progress = true;
                        break;
                    }
                }
            }
        }
    }

    /**
     * Called by a model runner that loops (a generation) once it will make no further step: iteration
     * loops waiting for the next step end now, so the code after them runs while the runner finishes
     * (and can still read what the runner calls last).
     */
    public void endSteps() {
        stepsEnded = true;
        endLoops(mediators);
    }

    /**
     * Ends the iteration loops of {@code bodies} that wait for the next step: each is told there is none and runs on.
     * (A continuous run never halts: its failures, stops and skips end one cohort.)
     */
    private void endLoops(List<Mediator> bodies) {
        for (Mediator mediator : bodies) {
            if (mediator.pending instanceof Signal.Wait && ((Signal.Wait) mediator.pending).action() == Signal.Action.STEP) {
                unwait(mediator);
                drive(mediator, Boolean.FALSE);
                haltIfNeeded();
            }
        }
    }

    // ---- a continuous run: cohorts join and leave between forward passes ----

    /**
     * Makes this the interleaver of a continuous run ({@link ContinuousRun}): cohorts {@linkplain
     * #join join} between forward passes, each pass serves the cohorts its {@linkplain #layout layout} names, each
     * at its own iteration, and each cohort's steps and run {@linkplain #endSteps(Cohort) end} on their own.
     */
    void continuous() {
        passLayout = new PassLayout(inputCalls.length);
        liveCohorts = -1; // cohorts come and go: the run ends when its runner returns
    }

    /**
     * Adds {@code cohort}'s bodies (its mediators, their engine's coroutines made) and runs each until it first waits
     * for the model; called on the model's thread between forward passes. The cohort counts module calls from 0.
     */
    void join(Cohort cohort) {
        passLayout.admit(cohort);
        mediators.addAll(cohort.mediators);
        live += cohort.mediators.size();
        for (Mediator mediator : cohort.mediators) {
            if (!mediator.done && !cohort.ended) {
                drive(mediator, null);
            }
        }
        endStoppedCohorts(); // it stopped before the model ran for it
    }

    /**
     * The forward pass that starts now serves {@code cohorts}, their rows in this order ({@code rows} each); the
     * others are absent: not served, their calls not counted. An empty list between passes.
     */
    void layout(List<Cohort> cohorts, List<Integer> rows) {
        batchSize = passLayout.lay(cohorts, rows);
    }

    /** {@link #endSteps()} for {@code cohort} alone: its bodies' iteration loops end now. */
    void endSteps(Cohort cohort) {
        cohort.stepsEnded = true;
        endLoops(cohort.mediators);
    }

    /**
     * {@link #end()} for {@code cohort} alone, once the runner calls the model for it no more: its open requests
     * fail, its loops end, its bodies run to their end; any still suspended then is cancelled.
     */
    void end(Cohort cohort) {
        cohort.stepsEnded = true;
        cohort.runEnded = true;
        answerAtEnd(cohort.mediators);
        cancel(cohort.mediators);
    }

    /**
     * Ends every body that is still suspended: it gets a cancellation at its suspension point, so its
     * {@code finally} blocks run and its thread ends. Safe to call in any state.
     */
    public void cancel() {
        runEnded = true;
        cancel(new ArrayList<>(mediators));
    }

    /** Cancels each of {@code bodies} that is still suspended, as {@link #cancel()} does all. */
    private void cancel(Iterable<Mediator> bodies) {
        for (Mediator mediator : bodies) {
            if (!mediator.isStarted() || mediator.done) {
                continue;
            }
            if (!mediator.resumed) {
                mediator.done = true; // never ran a line: nothing to unwind
                live--;
                continue;
            }
            if (mediator.pending instanceof Signal.Wait) {
                unwait(mediator);
            }
            mediator.pending = null;
            for (int attempt = 0; !mediator.done; attempt++) {
                if (attempt == CANCEL_ATTEMPTS) {
                    LOG.error("{} keeps running after being cancelled {} times (does it catch Throwable?); abandoning it",
                            mediator.name(), CANCEL_ATTEMPTS);
                    break;
                }
                Object signal = resume(mediator, Reply.CANCEL);
                if (signal instanceof Signal.Finished || signal instanceof Throwable) {
                    finish(mediator, finished(signal));
                }
            }
        }
    }

    /**
     * The first failure of a body (or of the trace's own checks), or {@code null}. A body of a cohort fails only
     * its cohort ({@link Cohort#failure()}), not the trace.
     */
    public Throwable failure() {
        return failure;
    }

    // ---- the hooks ----

    /** Whether module calls on the current thread are part of the run (and not made by a body). */
    public boolean isObserving() {
        return (live > 0 || !caches.isEmpty()) && !bodyRunning && !runEnded && Thread.currentThread() == modelThread;
    }

    /**
     * One call of the traceable module {@code module}: serves its inputs and output to the bodies waiting
     * for them.
     *
     * @param proceed runs the module's computation on (possibly replaced) inputs
     * @return the output, possibly replaced
     * @throws Halt when the run must end early
     */
    public Object call(int module, Inputs inputs, Function<Inputs, Object> proceed) {
        if (module >= moduleCount) {
            return callOnce(module, inputs, proceed);
        }
        if (depth == running.length) {
            running = Arrays.copyOf(running, depth * 2);
        }
        running[depth++] = module;
        try {
            return callOnce(module, inputs, proceed);
        } finally {
            depth--;
        }
    }

    private Object callOnce(int module, Inputs inputs, Function<Inputs, Object> proceed) {
        if (passLayout != null) {
            return callOnceContinuous(module, inputs, proceed);
        }
        int iteration = inputCalls[module];
        Object skipped = null;
        boolean skip = false;
        if (waiting[module] > 0) {
            Provider served = serve(module, Provider.Kind.INPUT, iteration, inputs);
            inputs = (Inputs) served.value;
            if (served.skips != null) {
                skipped = combineSkips(served);
                skip = true;
            }
        }
        inputCalls[module] = iteration + 1;
        if (caches.isEmpty() || module >= moduleCount) {
            return ended(module, iteration, skip ? skipped : proceed.apply(inputs));
        }
        for (CacheRecording cache : caches) {
            cache.started(module, inputs, batchSize);
        }
        Object output = ended(module, iteration, skip ? skipped : proceed.apply(inputs));
        for (CacheRecording cache : caches) {
            cache.ended(module, output, batchSize);
        }
        return output;
    }

    /** {@link #callOnce} in a continuous run: each present cohort at its own iteration; no skips (they evict). */
    private Object callOnceContinuous(int module, Inputs inputs, Function<Inputs, Object> proceed) {
        int iteration = inputCalls[module];
        if (waiting[module] > 0) {
            inputs = (Inputs) serve(module, Provider.Kind.INPUT, iteration, inputs).value;
        }
        inputCalls[module] = iteration + 1;
        passLayout.called(module);
        List<CacheRecording> recording = module < moduleCount ? passLayout.caches() : List.of();
        for (CacheRecording cache : recording) {
            cache.started(module, inputs, batchSize);
        }
        Object output = ended(module, iteration, proceed.apply(inputs));
        for (CacheRecording cache : recording) {
            cache.ended(module, output, batchSize);
        }
        return output;
    }

    /**
     * Whether some body waits for module or operation {@code index} now. When none waits for an operation,
     * its call site takes the cheap path: {@link #operationStarted}, the call as written, {@link #ended},
     * without building the call's inputs for bodies to see; a module asks before computing a value only
     * bodies need ({@code HookPoint.isAwaited}).
     */
    public boolean waitsFor(int index) {
        return waiting[index] > 0;
    }

    /** A call of operation {@code index} that no body waits for starts: counts it, and returns its iteration. */
    public int operationStarted(int index) {
        if (passLayout != null) {
            passLayout.called(index);
        }
        return inputCalls[index]++;
    }

    /**
     * The call of {@code module} at {@code iteration} returned {@code output}: serves it to the bodies waiting
     * for it (one may have started waiting while the call ran), counts it, and returns what the model
     * continues with.
     */
    public Object ended(int module, int iteration, Object output) {
        if (waiting[module] > 0) {
            output = serve(module, Provider.Kind.OUTPUT, iteration, output).value;
        }
        outputCalls[module] = Math.max(outputCalls[module], iteration + 1);
        if (passLayout != null) {
            passLayout.returned(module);
        }
        return output;
    }

    private Provider serve(int module, Provider.Kind kind, int iteration, Object value) {
        if (passLayout != null) {
            return serveCohorts(module, kind, value);
        }
        Provider served = new Provider(module, kind, iteration, value);
        Provider outer = provider;
        provider = served;
        Object initial = value;
        keepForBackward(served); // a body may run a backward pass from here
        try {
            serveWaiting(mediators, served);
        } finally {
            provider = outer;
        }
        if (served.value != initial) {
            keepForBackward(served); // what the model continues with, after the bodies' replacements
        }
        return served;
    }

    /**
     * {@link #serve} in a continuous run: the present cohorts in row order, each at its own iteration of the module
     * (the calls of it in the passes it was present in), each seeing what the cohorts before it replaced.
     */
    private Provider serveCohorts(int module, Provider.Kind kind, Object value) {
        Provider outer = provider;
        try {
            for (Cohort cohort : passLayout.present()) {
                int calls = cohort.inputCalls[module];
                Provider served = new Provider(module, kind, kind == Provider.Kind.INPUT ? calls : calls - 1, value);
                provider = served;
                servingCohort = cohort;
                serveWaiting(cohort.mediators, served);
                value = served.value;
            }
        } finally {
            provider = outer;
            servingCohort = null;
        }
        return new Provider(module, kind, -1, value);
    }

    /** Serves {@code served} to those of {@code bodies} that wait for exactly it, in order. */
    private void serveWaiting(List<Mediator> bodies, Provider served) {
        for (int i = 0, n = bodies.size(); i < n; i++) { // indexed: no iterator per served value
            Mediator mediator = bodies.get(i);
            if (mediator.pending instanceof Signal.Wait && served.matches((Signal.Wait) mediator.pending)) {
                Signal.Wait wait = (Signal.Wait) mediator.pending;
                unwait(mediator);
                drive(mediator, act(mediator, wait, served));
                haltIfNeeded();
            }
        }
    }

    private void keepForBackward(Provider served) {
        if (gradEnabled) {
            Object seen = served.kind == Provider.Kind.INPUT ? ((Inputs) served.value).first() : served.value;
            if (seen instanceof Tensor && ((Tensor) seen).requires_grad()) {
                read.put(key(served.module, served.kind, served.iteration), (Tensor) seen);
            }
        }
    }

    /** The key of one value of one call: module, side and iteration. */
    static long key(int module, Provider.Kind kind, int iteration) {
        return ((long) module << 32) | ((long) (kind == Provider.Kind.INPUT ? 1 : 0) << 31) | iteration;
    }

    /** Records every later call of the modules {@code cache} records, for one invoke. */
    void record(CacheRecording cache) {
        caches.add(cache);
    }

    /** The tensors bodies read while autograd recorded, by {@link #key}: the values a backward pass can reach. */
    Map<Long, Tensor> readTensors() {
        return read;
    }

    /** How messages name module {@code module}. */
    String moduleName(int module) {
        return name(module);
    }

    /** The rows of the batch. */
    int batchSize() {
        return batchSize;
    }

    /** Whether a body that waits for module {@code module} changes the computation of every row. */
    boolean isBatchSensitive(int module) {
        return target.isBatchSensitive(module);
    }

    /**
     * Makes this the run of {@code count} cohorts: once every one has ended or stopped, the forward pass ends early.
     */
    void cohorts(int count) {
        liveCohorts = count;
    }

    /**
     * Called once a body has handed control back: ends the cohorts that asked to stop, then ends the forward pass
     * if the trace failed, stopped, or has no cohort left running.
     */
    private void haltIfNeeded() {
        endStoppedCohorts();
        if (failure != null || stopRequested || liveCohorts == 0) {
            throw Halt.INSTANCE;
        }
    }

    // ---- driving bodies ----

    /** Resumes a body with {@code reply} and handles what it does until it waits for a later value or ends. */
    private void drive(Mediator mediator, Object reply) {
        Cohort cohort = mediator.cohort;
        int cancellations = 0;
        while (true) {
            if (mediator.done) {
                return;
            }
            if (cohort != null && cohort.ended) {
                // Its cohort failed or was evicted: whatever the body asks for now, it gets a cancellation.
                if (cancellations++ == CANCEL_ATTEMPTS) {
                    LOG.error("{} keeps running after its trace ended ({} cancellations; does it catch Throwable?); "
                            + "leaving it until the run ends", mediator.name(), CANCEL_ATTEMPTS);
                    return;
                }
                reply = Reply.CANCEL;
            }
            Object signal = resume(mediator, reply);
            if (cohort != null && cohort.ended && !(signal instanceof Signal.Finished || signal instanceof Throwable)) {
                continue;
            }
            if (signal instanceof Signal.Wait) {
                Signal.Wait wait = (Signal.Wait) signal;
                if (stepsEnded(mediator) && wait.action() == Signal.Action.STEP) {
                    reply = Boolean.FALSE;
                } else if (provider != null && provider.matches(wait) && servesHere(mediator)) {
                    reply = act(mediator, wait, provider);
                } else if (hasPassed(mediator, wait)) {
                    reply = wait.action() == Signal.Action.STEP ? Boolean.TRUE : outOfOrder(mediator, wait);
                } else if (runEnded(mediator)) {
                    reply = wait.action() == Signal.Action.STEP ? Boolean.FALSE : notReached(mediator, wait);
                } else {
                    mediator.pending = wait;
                    waiting[wait.module()]++;
                    return;
                }
            } else if (signal instanceof Signal.Completion) {
                Mediator other = ((Signal.Completion) signal).of();
                if (other == mediator) {
                    reply = RequestFaults.ownResult(mediator);
                } else if (other.done) {
                    reply = other.result();
                } else if (runEnded(mediator)) {
                    reply = RequestFaults.completionNotReached(mediator, other);
                } else {
                    mediator.pending = (Signal.Completion) signal;
                    return;
                }
            } else if (signal instanceof Signal.Arrival) {
                Signal.Arrival arrival = (Signal.Arrival) signal;
                mediator.pending = arrival;
                for (Mediator released : arrival.barrier().arrive(mediator)) {
                    released.pending = null;
                    drive(released, Reply.ACK);
                    if (failure != null) {
                        return;
                    }
                }
                return;
            } else {
                finish(mediator, finished(signal));
                return;
            }
        }
    }

    private Object resume(Mediator mediator, Object reply) {
        current = mediator;
        bodyRunning = true;
        mediator.resumed = true;
        try {
            return mediator.resume(reply);
        } finally {
            bodyRunning = false;
            current = null;
        }
    }

    private static Signal.Finished finished(Object signal) {
        if (signal instanceof Signal.Finished) {
            return (Signal.Finished) signal;
        }
        return new Signal.Finished(null, (Throwable) signal);
    }

    private void finish(Mediator mediator, Signal.Finished finished) {
        mediator.finish(finished);
        live--;
        Throwable error = finished.failure();
        Cohort cohort = mediator.cohort;
        if (cohort != null) {
            if (error != null && !(error instanceof Reply.Cancellation)) {
                cohort.fail(error); // an eviction's error: the cohort was evicted already
            }
            if (cohort.ended) {
                endCohort(cohort);
                return;
            }
        } else if (error != null && !(error instanceof Reply.Cancellation)) {
            fail(error);
            return; // the trace fails; the invokes waiting for this one's result are cancelled with the rest
        }
        for (int i = 0, n = mediators.size(); i < n; i++) { // indexed: no iterator per finished body
            Mediator waiting = mediators.get(i);
            if (waiting.pending instanceof Signal.Completion && ((Signal.Completion) waiting.pending).of() == mediator) {
                waiting.pending = null;
                drive(waiting, mediator.result());
                if (failure != null) {
                    return;
                }
            }
        }
    }

    /**
     * Ends {@code cohort}, which failed or was evicted, alone: its caches stop recording and its bodies still
     * suspended are cancelled (a cancellation at their suspension point, so their {@code finally} blocks run).
     * The trace goes on; its rows are computed and ignored.
     */
    private void endCohort(Cohort cohort) {
        if (!cohort.startCancelling()) {
            return;
        }
        if (!cohort.runEnded) { // a cohort that stopped stopped counting then
            countOneCohortLess();
        }
        caches.removeAll(cohort.caches);
        cancel(cohort.mediators);
    }

    /** Counts one cohort less among those running, once it ended or stopped; the last one ends the forward pass. */
    private void countOneCohortLess() {
        if (liveCohorts > 0) {
            liveCohorts--;
        }
    }

    /**
     * Ends the cohorts that asked to stop, each as a trace alone ends once stopped ({@link #end()}): its caches
     * stop recording, its open requests fail with {@code NotReachedException} (an iteration loop ends), its bodies
     * run to their end, any still suspended then is cancelled. The forward pass goes on for the other cohorts; the
     * stopped cohort's rows are computed and ignored.
     */
    private void endStoppedCohorts() {
        while (!stopping.isEmpty()) {
            Cohort cohort = stopping.remove(0);
            if (cohort.ended || cohort.runEnded) {
                continue; // it failed or was evicted meanwhile: that ended it
            }
            cohort.runEnded = true;
            caches.removeAll(cohort.caches);
            countOneCohortLess();
            answerAtEnd(cohort.mediators);
            cancel(cohort.mediators);
        }
    }

    private void fail(Throwable error) {
        if (failure == null) {
            failure = error;
        } else if (failure != error) {
            failure.addSuppressed(error);
        }
    }

    private void unwait(Mediator mediator) {
        waiting[((Signal.Wait) mediator.pending).module()]--;
        mediator.pending = null;
    }

    /** The mediator whose body is running now, or {@code null} when the model side runs. */
    public Mediator current() {
        return current;
    }

    /** Ends the forward pass as soon as the running body hands control back. */
    public void stop() {
        stopRequested = true;
    }

    /**
     * {@link #stop()} for {@code cohort} alone, when several traces share the forward pass: as soon as the running
     * body hands control back, the cohort ends as a trace alone ends once stopped, and the forward pass goes on for
     * the others (it ends early once no cohort runs). In a continuous run, the runner then lays the cohort out no
     * more ({@link Cohort#hasEnded()}) and makes no further call for it, as a generation alone stops.
     */
    void stop(Cohort cohort) {
        if (cohort.stopRequested) {
            return;
        }
        cohort.stopRequested = true;
        if (!runEnded && !cohort.runEnded) {
            stopping.add(cohort);
        }
    }

    // ---- serving one request ----

    private Object act(Mediator mediator, Signal.Wait wait, Provider served) {
        switch (wait.action()) {
            case READ:
            case READ_FIRST:
                Object read = wait.action() == Signal.Action.READ_FIRST ? ((Inputs) served.value).first()
                        : served.value;
                if (mediator.cohort != null) {
                    String unsplit = InvokeRows.unsplittable(read, batchSize);
                    if (unsplit != null) {
                        // it could see other cohorts' rows inside it (a cache of keys and values, rows flattened)
                        mediator.cohort.evict("it reads " + RequestFaults.describe(target, wait) + ", which holds "
                                + unsplit + ", a value the run cannot split by rows");
                        return Reply.CANCEL;
                    }
                }
                return InvokeRows.narrow(read, mediator.group(), batchSize);
            case REPLACE:
                try {
                    served.value = InvokeRows.replace(served.value, wait.value(), mediator.group(),
                            mediator.cohort == null ? null : mediator.cohort.rows, batchSize,
                            "the " + served.kind.noun + " of " + name(served.module));
                    return Reply.ACK;
                } catch (InvokeRows.SharedByCohorts e) {
                    mediator.cohort.evict(e.getMessage());
                    return Reply.CANCEL;
                } catch (TraceException e) {
                    String message = e.getMessage();
                    return new Reply.Fault(() -> new TraceException(message));
                }
            case SKIP:
                served.addSkip(new Provider.Skip(mediator.group(), wait.value(), mediator.name()));
                return Reply.ACK;
            case STEP:
                return Boolean.TRUE;
            default:
                throw new AssertionError(wait.action());
        }
    }

    /** What the call of a skipped module returns ({@link InvokeRows#combineSkips}); skips that do not fit fail the trace. */
    private Object combineSkips(Provider served) {
        try {
            return InvokeRows.combineSkips(served.skips, batchSize, name(served.module), mediators);
        } catch (TraceException e) {
            fail(e);
            throw Halt.INSTANCE;
        }
    }

    // ---- where a body stands, and what its requests get when they cannot be served ----

    private boolean hasPassed(Mediator mediator, Signal.Wait wait) {
        int[] calls = wait.kind() == Provider.Kind.INPUT ? inputCalls(mediator) : outputCalls(mediator);
        return calls[wait.module()] > wait.iteration();
    }

    /** The calls of each module the body's requests count: its cohort's own in a continuous run. */
    private int[] inputCalls(Mediator mediator) {
        return passLayout != null && mediator.cohort != null ? mediator.cohort.inputCalls : inputCalls;
    }

    private int[] outputCalls(Mediator mediator) {
        return passLayout != null && mediator.cohort != null ? mediator.cohort.outputCalls : outputCalls;
    }

    private boolean stepsEnded(Mediator mediator) {
        return stepsEnded || mediator.cohort != null && mediator.cohort.stepsEnded;
    }

    private boolean runEnded(Mediator mediator) {
        return runEnded || mediator.cohort != null && mediator.cohort.runEnded;
    }

    /**
     * Whether the value being served now is for the body: its cohort's run has not ended (it stopped), and in a
     * continuous run, the value is its cohort's.
     */
    private boolean servesHere(Mediator mediator) {
        return (mediator.cohort == null || !mediator.cohort.runEnded)
                && (passLayout == null || servingCohort == mediator.cohort);
    }

    private Reply.Fault outOfOrder(Mediator mediator, Signal.Wait wait) {
        boolean ended = runEnded(mediator); // the run, as the body sees it, is at its end: nothing is served
        String position = RequestFaults.position(target, ended ? null : provider, ended, stepsEnded, inputCalls);
        return RequestFaults.outOfOrder(target, wait, position, stepsEnded(mediator));
    }

    private Reply.Fault notReached(Mediator mediator, Signal.Wait wait) {
        boolean stopped = stopRequested || mediator.cohort != null && mediator.cohort.stopRequested;
        return RequestFaults.notReached(target, wait, inputCalls(mediator)[wait.module()], stopped);
    }

    private String name(int module) {
        return target.name(module);
    }
}
