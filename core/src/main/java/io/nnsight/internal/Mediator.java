package io.nnsight.internal;

import io.nnsight.Inputs;
import io.nnsight.internal.engine.Coroutine;
import java.util.function.Supplier;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;

/**
 * One invoke: its body running as a coroutine, the batch rows it owns, and where it stands.
 *
 * <p>The body side calls the {@code read}/{@code replace}/{@code skip} methods (through {@code Envoy}),
 * which suspend the body until the model reaches the requested module call. The model side, the {@link
 * Interleaver}, resumes the body with the value.
 */
public final class Mediator {
    private final int order;
    private final String name;
    /** Its rows as set up; in a continuous run, relative to its cohort's first row. */
    private final RowRange placed;
    private RowRange group;
    private final Supplier<?> body;
    /** The cohort it belongs to when several traces share the run, else {@code null}. */
    final Cohort cohort;

    private Interleaver interleaver;
    private Coroutine coroutine;

    // Model side: what the body waits for, and how it ended.
    Signal pending;
    boolean resumed;
    boolean done;
    private Object result;
    private Throwable failure;

    // Body side: the iteration requests read, and the innermost iteration loop.
    private int iteration;
    private StepLoop loop;
    private boolean gradModeChanged;
    private boolean contextEntered;
    private Object contextPrevious;

    /**
     * An invoke.
     *
     * @param order its position among the trace's invokes; they are served in this order
     * @param name how messages name it, like {@code "invoke 1"}
     * @param group its batch rows, or {@code null} for an invoke without input, which sees the whole batch
     * @param body the intervention code
     */
    public Mediator(int order, String name, RowRange group, Supplier<?> body) {
        this(order, name, group, body, null);
    }

    /** An invoke of {@code cohort} (or of the whole trace, when {@code null}); see {@link #Mediator(int, String, RowRange, Supplier)}. */
    Mediator(int order, String name, RowRange group, Supplier<?> body, Cohort cohort) {
        this.order = order;
        this.name = name;
        this.placed = group;
        this.group = group;
        this.body = body;
        this.cohort = cohort;
    }

    /**
     * Moves its rows to where its cohort's rows start in the next forward pass of a continuous run (its set-up rows
     * count from the cohort's first row); an invoke without input gets all its cohort's rows.
     */
    void moveTo(RowRange cohortRows) {
        group = placed == null ? cohortRows : new RowRange(cohortRows.start() + placed.start(), placed.size());
    }

    public int order() {
        return order;
    }

    public String name() {
        return name;
    }

    public RowRange group() {
        return group;
    }

    /** The body's return value, once it has ended normally. */
    public Object result() {
        return result;
    }

    /** The body's failure, once it has ended by throwing. */
    public Throwable failure() {
        return failure;
    }

    /** Whether the body has ended. */
    public boolean isDone() {
        return done;
    }

    // ---- model side ----

    void start(Interleaver owner, Coroutine coroutine) {
        this.interleaver = owner;
        this.coroutine = coroutine;
    }

    Supplier<?> body() {
        return body;
    }

    Object resume(Object reply) {
        return coroutine.resume(reply);
    }

    void finish(Signal.Finished finished) {
        done = true;
        result = finished.result();
        failure = finished.failure();
        pending = null;
        coroutine.close();
    }

    /** The name of the engine that runs the body. */
    public String engine() {
        return coroutine.engine();
    }

    boolean isStarted() {
        return coroutine != null;
    }

    boolean isRunningOnThisThread() {
        return coroutine != null && coroutine.isCurrent();
    }

    // ---- body side ----

    /** Reads the inputs of {@code module}'s call at the current iteration. */
    public Inputs readInputs(int module) {
        return (Inputs) exchange(wait(module, Provider.Kind.INPUT, Signal.Action.READ, null));
    }

    /**
     * Reads the first argument of {@code module}'s call at the current iteration (the first named one if none is
     * positional).
     */
    public Object readFirstInput(int module) {
        return exchange(wait(module, Provider.Kind.INPUT, Signal.Action.READ_FIRST, null));
    }

    /** Reads the output of {@code module}'s call at the current iteration. */
    public Object readOutput(int module) {
        return exchange(wait(module, Provider.Kind.OUTPUT, Signal.Action.READ, null));
    }

    /** Replaces the inputs of {@code module}'s call at the current iteration. */
    public void replaceInputs(int module, Inputs inputs) {
        exchange(wait(module, Provider.Kind.INPUT, Signal.Action.REPLACE, inputs));
    }

    /** Replaces the output of {@code module}'s call at the current iteration. */
    public void replaceOutput(int module, Object output) {
        exchange(wait(module, Provider.Kind.OUTPUT, Signal.Action.REPLACE, output));
    }

    /** Skips the computation of {@code module} at the current iteration, its output becoming {@code value}. */
    public void skip(int module, Object value) {
        if (cohort != null) {
            throw cohort.evict("it skips " + interleaver.moduleName(module) + ", which replaces the module's computation "
                    + "for every row");
        }
        exchange(wait(module, Provider.Kind.INPUT, Signal.Action.SKIP, value));
    }

    /** Reads the gradient of {@code module}'s output (or inputs) at the current iteration, in a backward pass. */
    public Tensor readGrad(int module, boolean ofInputs) {
        return (Tensor) exchange(wait(module, ofInputs ? Provider.Kind.INPUT_GRAD : Provider.Kind.OUTPUT_GRAD,
                Signal.Action.READ, null));
    }

    /** Replaces the gradient of {@code module}'s output (or inputs): the rest of the backward pass gets it. */
    public void replaceGrad(int module, boolean ofInputs, Tensor grad) {
        exchange(wait(module, ofInputs ? Provider.Kind.INPUT_GRAD : Provider.Kind.OUTPUT_GRAD, Signal.Action.REPLACE,
                grad));
    }

    /** Waits at a barrier until all its participants have arrived. */
    public void arrive(BarrierState barrier) {
        exchange(new Signal.Arrival(barrier));
    }

    /** Waits until the body of {@code other}, an invoke of the same trace, has returned; gives its result. */
    public Object awaitResult(Mediator other) {
        return exchange(new Signal.Completion(other));
    }

    /** Waits until {@code module} is called for the {@code step}-th time; false when the run ends first. */
    boolean awaitStep(int module, int step) {
        return (Boolean) exchange(new Signal.Wait(module, Provider.Kind.INPUT, step, Signal.Action.STEP, null));
    }

    private Signal.Wait wait(int module, Provider.Kind kind, Signal.Action action, Object value) {
        if (loop != null) {
            loop.noteRequest(module);
        }
        if (cohort != null && interleaver.isBatchSensitive(module)) {
            throw cohort.evict("it waits for " + interleaver.moduleName(module) + ", which computes every row "
                    + "differently once a body waits for it");
        }
        return new Signal.Wait(module, kind, iteration, action, value);
    }

    private Object exchange(Signal signal) {
        leaveThread();
        Object reply = coroutine.suspend(signal);
        enterThread();
        if (reply == Reply.CANCEL) {
            throw new Reply.Cancellation();
        }
        if (reply instanceof Reply.Fault) {
            throw ((Reply.Fault) reply).error().get();
        }
        return reply == Reply.ACK ? null : reply;
    }

    /**
     * Gives the body's thread the trace's autograd mode, and puts its cohort's {@code BodyContext} in force (once:
     * a state machine's replayed requests call this again before the matching {@link #leaveThread()}). libtorch keeps the mode per native thread, and a
     * virtual thread may run on another carrier after each suspension, so this runs at every resumption.
     */
    void enterThread() {
        boolean wanted = interleaver.gradEnabled();
        gradModeChanged = GradMode.is_enabled() != wanted;
        if (gradModeChanged) {
            GradMode.set_enabled(wanted);
        }
        if (cohort != null && !contextEntered) {
            contextPrevious = cohort.context.enter();
            contextEntered = true;
        }
    }

    /** Gives the thread back the autograd mode and context it had before {@link #enterThread()}. */
    void leaveThread() {
        if (contextEntered) {
            contextEntered = false;
            Object previous = contextPrevious;
            contextPrevious = null;
            cohort.context.leave(previous);
        }
        if (gradModeChanged) {
            GradMode.set_enabled(!interleaver.gradEnabled());
            gradModeChanged = false;
        }
    }

    /** The iteration that requests read now. */
    public int iteration() {
        return iteration;
    }

    /** Sets the iteration that later requests read. */
    public void iteration(int iteration) {
        this.iteration = iteration;
    }

    StepLoop loop() {
        return loop;
    }

    void loop(StepLoop loop) {
        this.loop = loop;
    }

    @Override
    public String toString() {
        return name;
    }
}
