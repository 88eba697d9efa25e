package io.nnsight.internal;

import io.nnsight.NotReachedException;
import io.nnsight.OutOfOrderException;
import io.nnsight.Tensors;
import io.nnsight.TraceException;
import io.nnsight.internal.engine.Coroutine;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorBase;
import org.bytedeco.pytorch.TensorTensorHook;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * One backward pass inside a trace ({@code tr.backward(metric, body)}): libtorch's autograd runs from the
 * metric back through the forward pass's graph, and the body runs interleaved with it, as an invoke's body
 * runs with the forward pass. The body asks for the gradient of a module's output (or inputs) with {@code
 * envoy.grad()}; it is suspended until backward reaches that module's value, gets the gradient narrowed to its
 * invoke's rows, and may replace it ({@code setGrad}), so that the rest of the backward pass continues with the
 * replacement.
 *
 * <p>How: the forward pass kept each tensor a body read while autograd recorded ({@link
 * Interleaver#readTensors()}). Before backward starts, each gets a one-pass tensor hook; autograd calls the hooks
 * in the order it produces gradients, last module first, on the thread that runs backward. A hook serves the
 * body waiting for that value and returns its replacement, if any. Backward runs as {@code torch::autograd::grad}
 * over those tensors, so no parameter accumulates a {@code .grad}, and it keeps the graph, so that several
 * invokes can each run a backward pass over their own metric.
 *
 * <p>The body runs as a coroutine of the trace's engine, resumed from the hooks: the hooks are the model side of
 * a backward pass, as module hooks are of a forward pass. Asking for a gradient that backward has already
 * produced is out of order; one that backward never produces (the module does not contribute to the metric) is
 * not reached.
 */
final class GradientRun {
    private final Interleaver forward;
    private final Mediator body;
    private final Map<Long, Tensor> reachable;
    private final Set<Long> passed = new HashSet<>();
    private Long lastPassed;
    private final List<Registration> hooks = new ArrayList<>();

    private Signal.Wait pending;
    private Long current;
    private Tensor currentGrad;
    private boolean replaced;
    private boolean bodyRunning;

    /** A tensor hook on one value, and the tensor it is on (to remove it). */
    private record Registration(Tensor tensor, int handle, Hook hook) {}

    GradientRun(Interleaver forward, Mediator body) {
        this.forward = forward;
        this.body = body;
        this.reachable = forward.readTensors();
    }

    Mediator body() {
        return body;
    }

    /** Whether the backward body runs on the calling thread now. */
    boolean isBodyRunningHere() {
        return bodyRunning && body.isRunningOnThisThread();
    }

    /**
     * Runs the backward pass from {@code metric} with the body interleaved, and returns the body's result.
     *
     * @throws TraceException when the metric is on no autograd graph
     */
    Object execute(Tensor metric, Coroutine coroutine) {
        if (!metric.requires_grad()) {
            throw new TraceException("tr.backward(metric, ...): the metric " + Tensors.describe(metric)
                    + " is on no autograd graph: it was computed with autograd off (GradMode disabled, or a "
                    + "NoGradGuard around the trace), or from values that require no gradient");
        }
        if (metric.numel() != 1) {
            throw new TraceException("tr.backward(metric, ...): the metric must be one number (a scalar tensor), not "
                    + Tensors.describe(metric) + ": reduce it first, e.g. with sum() or select(...)");
        }
        body.start(forward, coroutine);
        try {
            List<Tensor> targets = new ArrayList<>();
            reachable.forEach((key, tensor) -> {
                Hook hook = new Hook(key);
                hooks.add(new Registration(tensor, tensor.register_hook(hook), hook));
                targets.add(tensor);
            });
            drive(null);
            if (!body.isDone()) {
                if (!targets.isEmpty()) {
                    torch.grad(new TensorVector(metric), new TensorVector(targets.toArray(new Tensor[0])),
                            new TensorVector(), new BoolOptional(true), false, true);
                }
                current = null;
                while (pending != null) { // what backward never produced
                    Signal.Wait wait = pending;
                    pending = null;
                    drive(notReached(wait));
                }
            }
        } finally {
            for (Registration registration : hooks) {
                registration.tensor().remove_hook(registration.handle());
            }
            if (!body.isDone()) { // the trace is failing: unwind the body's finally blocks
                Object end = body.resume(Reply.CANCEL);
                body.finish(end instanceof Signal.Finished ? (Signal.Finished) end : new Signal.Finished(null, null));
            }
        }
        if (body.failure() != null) {
            throw StackTraces.rethrow(body.failure());
        }
        return body.result();
    }

    /** Resumes the body with {@code reply} and answers its requests until it waits for a later gradient or ends. */
    private void drive(Object reply) {
        while (true) {
            Object signal;
            bodyRunning = true;
            try {
                signal = body.resume(reply);
            } finally {
                bodyRunning = false;
            }
            if (!(signal instanceof Signal.Wait)) {
                Signal.Finished finished = signal instanceof Signal.Finished
                        ? (Signal.Finished) signal
                        : new Signal.Finished(null, (Throwable) signal);
                body.finish(finished);
                return;
            }
            Signal.Wait wait = (Signal.Wait) signal;
            if (wait.kind() != Provider.Kind.OUTPUT_GRAD && wait.kind() != Provider.Kind.INPUT_GRAD) {
                reply = fault(describe(wait) + " inside tr.backward: a backward pass's body asks for gradients only "
                        + "(grad(), setGrad(...), inputGrad(), setInputGrad(...)); read values in the invoke's body, "
                        + "before tr.backward");
                continue;
            }
            long key = Interleaver.key(wait.module(), forwardKind(wait), wait.iteration());
            if (current != null && current == key) {
                reply = serve(wait);
            } else if (!reachable.containsKey(key)) {
                reply = fault(describe(wait) + " cannot be asked for: " + valueOf(wait) + " was not read in the "
                        + "forward pass with autograd on (no body of this trace read it). Read it in the invoke's "
                        + "body before tr.backward, and run the trace with gradients enabled");
            } else if (passed.contains(key)) {
                reply = new Reply.Fault(() -> new OutOfOrderException("Asked for " + describe(wait) + ", but the "
                        + "backward pass has already passed it: it is at " + position() + " now. Ask for gradients "
                        + "in the order backward produces them, the last module first"));
            } else {
                pending = wait;
                return;
            }
        }
    }

    /** Serves the body's request for the gradient being produced now. */
    private Object serve(Signal.Wait wait) {
        RowRange rows = body.group();
        int total = forward.batchSize();
        if (wait.action() == Signal.Action.READ) {
            return InvokeRows.narrow(currentGrad, rows, total);
        }
        try {
            currentGrad = (Tensor) InvokeRows.splice(currentGrad, wait.value(), rows, total, describe(wait));
            replaced = true;
            return Reply.ACK;
        } catch (TraceException e) {
            String message = e.getMessage();
            return fault(message);
        }
    }

    /** Called by autograd with the gradient of the value of {@code key}; returns its replacement, if any. */
    private Tensor gradientReached(long key, Tensor grad) {
        passed.add(key);
        lastPassed = key;
        if (pending == null || body.isDone()
                || Interleaver.key(pending.module(), forwardKind(pending), pending.iteration()) != key) {
            return null;
        }
        Signal.Wait wait = pending;
        pending = null;
        current = key;
        currentGrad = grad;
        replaced = false;
        drive(serve(wait));
        current = null;
        return replaced ? currentGrad : null;
    }

    private final class Hook extends TensorTensorHook {
        private final long key;

        Hook(long key) {
            this.key = key;
        }

        @Override
        public TensorBase call(TensorBase grad) {
            try {
                Tensor replacement = gradientReached(key, new Tensor(grad));
                return replacement == null ? new TensorBase() : replacement;
            } catch (RuntimeException | Error e) {
                body.finish(new Signal.Finished(null, e));
                return new TensorBase();
            }
        }
    }

    private Reply.Fault notReached(Signal.Wait wait) {
        String message = describe(wait) + " was never reached: backward from the metric did not pass " + valueOf(wait)
                + ", so it does not contribute to the metric (it is not on the metric's graph)";
        return new Reply.Fault(() -> new NotReachedException(message));
    }

    private static Reply.Fault fault(String message) {
        return new Reply.Fault(() -> new TraceException(message));
    }

    private String position() {
        return current != null ? describeKey(current)
                : "a point after " + (lastPassed == null ? "its start" : describeKey(lastPassed));
    }

    private String describeKey(long key) {
        int module = (int) (key >>> 32);
        boolean inputs = (key & (1L << 31)) != 0;
        int iteration = (int) (key & 0x7FFFFFFFL);
        return "the gradient of the " + (inputs ? "inputs" : "output") + " of " + forward.moduleName(module)
                + (iteration == 0 ? "" : " (iteration " + iteration + ")");
    }

    private String describe(Signal.Wait wait) {
        return "the " + wait.kind().noun + " of " + forward.moduleName(wait.module())
                + (wait.iteration() == 0 ? "" : " (iteration " + wait.iteration() + ")");
    }

    private String valueOf(Signal.Wait wait) {
        return "the " + (forwardKind(wait) == Provider.Kind.INPUT ? "inputs" : "output") + " of "
                + forward.moduleName(wait.module());
    }

    private static Provider.Kind forwardKind(Signal.Wait wait) {
        return wait.kind() == Provider.Kind.INPUT_GRAD ? Provider.Kind.INPUT : Provider.Kind.OUTPUT;
    }
}
