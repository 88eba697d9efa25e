package io.nnsight.internal;

import io.nnsight.NotReachedException;
import io.nnsight.OutOfOrderException;
import io.nnsight.TraceException;
import java.util.Arrays;

/**
 * The faults a body's request gets when the {@link Interleaver} cannot serve it, and the words they use: the value
 * asked for, where the forward pass is, why a value was never reached. Each says what happened and what to do.
 */
final class RequestFaults {
    private RequestFaults() {}

    /**
     * The fault of a request for a value the forward pass has already run past.
     *
     * @param position where the pass is now ({@link #position})
     * @param stepsEnded whether the model runner's last step ended the body's iteration loop
     */
    static Reply.Fault outOfOrder(TraceTarget target, Signal.Wait wait, String position, boolean stepsEnded) {
        String message = "Asked for " + describe(target, wait) + ", but the forward pass has already run past it: it is "
                + "at " + position + " now. " + (stepsEnded
                        ? "The model runner made its last step, which ended the body's loop over its iterations "
                                + "(tr.all()); after such a loop a request reads the iteration in force before it ("
                                + wait.iteration() + "), long passed. Read the module inside the loop, keeping what "
                                + "you need (in a list, with NNsight.save), or before the loop."
                        : "Inside one invoke, read modules in the order the model runs them; to read an earlier module "
                                + "after a later one, read it in a separate invoke.");
        return new Reply.Fault(() -> new OutOfOrderException(message));
    }

    /**
     * The fault of a request still open when the run ended.
     *
     * @param calls how often the module was called (for the body: its cohort's calls in a continuous run)
     * @param stopped whether {@code tr.stop()} ended the run
     */
    static Reply.Fault notReached(TraceTarget target, Signal.Wait wait, int calls, boolean stopped) {
        String module = target.name(wait.module());
        String why;
        if (stopped) {
            why = "tr.stop() ended the run before that";
        } else if (calls == 0) {
            why = module + " was not called during this run; check that the model's forward calls it (through its hook "
                    + "point: a module whose computation bypasses it is invisible to traces)";
        } else {
            why = module + " ran " + calls + (calls == 1 ? " time" : " times") + ", so its iterations are 0.." + (calls - 1);
        }
        String message = describe(target, wait) + " was never reached: " + why + ".";
        return new Reply.Fault(() -> new NotReachedException(message));
    }

    /** The fault of a body that asked for its own result. */
    static Reply.Fault ownResult(Mediator mediator) {
        return new Reply.Fault(() -> new TraceException(mediator.name() + " asked for its own result, which exists only "
                + "once its body has returned"));
    }

    /** The fault of {@code waiting}'s request for the result of {@code other}, whose body had not returned at the end. */
    static Reply.Fault completionNotReached(Mediator waiting, Mediator other) {
        String message = waiting.name() + " waited for the result of " + other.name() + ", whose body had not returned "
                + "when the run ended" + (other.pending instanceof Signal.Completion
                        ? " (it waited for the result of " + ((Signal.Completion) other.pending).of().name() + " itself)"
                        : "") + ": an invoke's result is readable once its body has returned";
        return new Reply.Fault(() -> new TraceException(message));
    }

    /** The fault of a body waiting at {@code barrier}, which not every participant reached before the run ended. */
    static Reply.Fault barrierNotReached(BarrierState barrier) {
        String message = "A barrier for " + barrier.participants() + " invokes was reached by only " + barrier.arrivedCount()
                + " when the run ended: every participant must call await().";
        return new Reply.Fault(() -> new TraceException(message));
    }

    /** The value {@code wait} asks for, like {@code "the output of layer1 (iteration 2)"}. */
    static String describe(TraceTarget target, Signal.Wait wait) {
        String module = target.name(wait.module());
        String call = wait.iteration() == 0 ? "" : " (iteration " + wait.iteration() + ")";
        if (wait.action() == Signal.Action.SKIP) {
            return "the call of " + module + call + " to skip";
        }
        return "the " + wait.kind().noun + " of " + module + call;
    }

    /**
     * Where the forward pass is: the value being served ({@code serving}, or {@code null} between values), or its
     * start, end, last step's end, or a point between module calls.
     *
     * @param inputCalls how often each module has been called
     */
    static String position(TraceTarget target, Provider serving, boolean runEnded, boolean stepsEnded, int[] inputCalls) {
        if (serving == null) {
            if (runEnded) {
                return "its end";
            }
            if (stepsEnded) {
                return "the end of its last step";
            }
            return Arrays.stream(inputCalls).allMatch(calls -> calls == 0) ? "its start" : "a point between module calls";
        }
        String call = serving.iteration == 0 ? "" : " (iteration " + serving.iteration + ")";
        return "the " + serving.kind.noun + " of " + target.name(serving.module) + call;
    }
}
