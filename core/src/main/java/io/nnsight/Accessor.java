package io.nnsight;

import io.nnsight.Tensors;
import io.nnsight.internal.Mediator;
import io.nnsight.internal.Running;
import io.nnsight.internal.TraceRun;
import io.nnsight.internal.ValueTrees;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * Reading and changing the values of one call site of a running model, inside a trace: what {@link Envoy}
 * (a module) and {@link Operation} (a call inside a module's code) share.
 *
 * <p>{@link #output()}, {@link #input()} and {@link #inputs()} suspend the intervention body until the
 * model reaches the call, then return the live values: an in-place edit of a returned tensor changes what
 * the model computes next. {@link #setOutput}, {@link #setInput} and {@link #setInputs} replace the values
 * instead, and {@link #skip} replaces the whole computation. Each invoke sees only its own batch rows.
 */
abstract class Accessor {
    final int index;

    Accessor(int index) {
        this.index = index;
    }

    /** The wrapper this call site belongs to. */
    abstract NNsight root();

    /** How messages name this call site. */
    abstract String describe();

    /** Why this call site cannot be traced, for the message when it is asked for. */
    abstract String untraceable();

    /**
     * The output of this call in the current invoke: suspends the body until it has run.
     *
     * @throws ClassCastException when the module's output is not a tensor; use {@link #output(Class)}
     * @throws OutOfOrderException when the model already ran past this module in this invoke
     */
    public Tensor output() {
        Object value = requester("output()").readOutput(traceableIndex("output()"));
        if (value instanceof Tensor) {
            return (Tensor) value;
        }
        throw new ClassCastException("the output of " + describe() + " is " + Tensors.describe(value)
                + ", not a Tensor; read it with output(" + (value == null ? "Object" : value.getClass().getSimpleName())
                + ".class)");
    }

    /** The output as a {@code type}, for calls whose output is not a single tensor. */
    public <T> T output(Class<T> type) {
        String what = "output(" + type.getSimpleName() + ".class)";
        Object value = requester(what).readOutput(traceableIndex(what));
        if (value != null && !type.isInstance(value)) {
            throw new ClassCastException("the output of " + describe() + " is " + Tensors.describe(value) + ", not a "
                    + type.getSimpleName());
        }
        return type.cast(value);
    }

    /**
     * Replaces the output (this invoke's rows of it): the rest of the model sees {@code value}.
     *
     * @throws TraceException when {@code value} does not fit: a tensor must have the shape of the output's
     *     rows that this invoke sees, its element type and its device (the message names both shapes)
     * @throws FreedTensorException when a tensor in {@code value} was freed (by the trace that made it)
     */
    public void setOutput(Object value) {
        requireLive(value, describe() + ".setOutput(...)");
        requester("setOutput(...)").replaceOutput(traceableIndex("setOutput(...)"), value);
    }

    /**
     * The first argument of the call in the current invoke (the first named argument if there is no
     * positional one): suspends the body until the call happens. It reads that argument only, so in a forward
     * pass shared with other traces (a model server's batch) the call's other arguments, such as a decoder
     * layer's key/value cache, need not split by rows as {@link #inputs()} needs them to.
     */
    public Tensor input() {
        Object value = requester("input()").readFirstInput(traceableIndex("input()"));
        if (value instanceof Tensor) {
            return (Tensor) value;
        }
        throw new ClassCastException("the first argument of " + describe() + " is " + Tensors.describe(value)
                + ", not a Tensor; read it from inputs()");
    }

    /** All arguments of the call in the current invoke: suspends the body until the call happens. */
    public Inputs inputs() {
        return requester("inputs()").readInputs(traceableIndex("inputs()"));
    }

    /**
     * Replaces the first argument of the call: it runs on {@code value}.
     *
     * @throws TraceException when {@code value} does not fit, as for {@link #setOutput}: a tensor must have
     *     the argument's shape (this invoke's rows of it), element type and device
     * @throws FreedTensorException when a tensor in {@code value} was freed (by the trace that made it)
     */
    public void setInput(Object value) {
        requireLive(value, describe() + ".setInput(...)");
        setInputs(inputs().withFirst(value));
    }

    /**
     * Replaces all arguments of the call; each tensor must fit the argument it replaces, as for {@link
     * #setInput}.
     */
    public void setInputs(Inputs inputs) {
        Objects.requireNonNull(inputs, "inputs");
        requireLive(inputs, describe() + ".setInputs(...)");
        requester("setInputs(...)").replaceInputs(traceableIndex("setInputs(...)"), inputs);
    }

    /**
     * Skips the next call: it does not run, and {@code value} is its output. A skip replaces the computation
     * for the whole batch, so every invoke with an input must skip the same call (each with its rows), or one
     * invoke without input must skip it with a value for the whole batch.
     */
    public void skip(Object value) {
        requireLive(value, describe() + ".skip(...)");
        requester("skip(...)").skip(traceableIndex("skip(...)"), value);
    }

    // ---- gradients: inside tr.backward(metric, body) ----

    /**
     * The gradient of the metric with respect to this call's output (the invoke's rows of it): inside the body of
     * {@link Tracer#backward(Tensor, Runnable) tr.backward}, suspends it until the backward pass reaches this
     * output. Backward runs from the metric back to the input, so ask for gradients last module first. The output
     * must have been read in the forward pass ({@link #output()}), with autograd on.
     *
     * @throws OutOfOrderException when the backward pass already passed this output
     * @throws NotReachedException when this output does not contribute to the metric
     */
    public Tensor grad() {
        return requester("grad()").readGrad(traceableIndex("grad()"), false);
    }

    /** Replaces the gradient of this call's output (the invoke's rows of it): the rest of backward continues with it. */
    public void setGrad(Tensor grad) {
        Objects.requireNonNull(grad, "grad");
        requireLive(grad, describe() + ".setGrad(...)");
        requester("setGrad(...)").replaceGrad(traceableIndex("setGrad(...)"), false, grad);
    }

    /** The gradient with respect to this call's first input; see {@link #grad()}. */
    public Tensor inputGrad() {
        return requester("inputGrad()").readGrad(traceableIndex("inputGrad()"), true);
    }

    /** Replaces the gradient of this call's first input; see {@link #setGrad(Tensor)}. */
    public void setInputGrad(Tensor grad) {
        Objects.requireNonNull(grad, "grad");
        requireLive(grad, describe() + ".setInputGrad(...)");
        requester("setInputGrad(...)").replaceGrad(traceableIndex("setInputGrad(...)"), true, grad);
    }

    /**
     * Refuses a value given to {@code what} that holds a freed tensor, at the call (it would fail later in
     * the model, with JavaCPP's "This pointer address is NULL").
     */
    static void requireLive(Object value, String what) {
        ValueTrees.forEachPointer(value, pointer -> {
            if (pointer instanceof Tensor && pointer.isNull()) {
                throw new FreedTensorException(value == pointer ? "the tensor given to " + what : "a tensor given to " + what);
            }
        });
    }

    private Mediator requester(String what) {
        TraceRun run = Running.trace(root().target());
        if (run == null) {
            throw new IllegalStateException(describe() + "." + what + " can only be used inside a trace body, e.g. "
                    + "model.trace(input, tr -> ...)");
        }
        return run.requester(describe() + "." + what);
    }

    private int traceableIndex(String what) {
        if (index < 0) {
            throw new TraceException(describe() + "." + what + ": " + untraceable());
        }
        return index;
    }
}
