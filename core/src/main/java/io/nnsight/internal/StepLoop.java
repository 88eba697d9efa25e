package io.nnsight.internal;

import io.nnsight.Steps;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.OptionalInt;

/**
 * The iterator behind {@code for (int step : tr.iter(steps))}: each step sets the iteration that the
 * invoke's requests read. An unbounded loop waits in {@link #hasNext()} until the next iteration starts,
 * and ends when the run ends. The iteration in force before the loop is restored when it ends normally.
 */
public final class StepLoop implements Iterator<Integer> {
    private final Mediator mediator;
    private final Steps steps;
    private final int iterationBefore;
    private final StepLoop outer;

    private int index;
    private int anchor = -1;
    private OptionalInt next;
    private boolean finished;

    /** A loop for the invoke of {@code mediator}. */
    public StepLoop(Mediator mediator, Steps steps) {
        this.mediator = mediator;
        this.steps = steps;
        this.iterationBefore = mediator.iteration();
        this.outer = mediator.loop();
        mediator.loop(this);
    }

    /** Called for each request of the invoke: the first module read in the first step marks each step's start. */
    void noteRequest(int module) {
        if (anchor < 0 && index == 1) {
            anchor = module;
        }
    }

    @Override
    public boolean hasNext() {
        if (finished) {
            return false;
        }
        if (next == null) {
            OptionalInt step = steps.stepAt(index);
            if (step.isPresent() && index > 0 && steps.isUnbounded() && anchor >= 0
                    && !mediator.awaitStep(anchor, step.getAsInt())) {
                step = OptionalInt.empty();
            }
            next = step;
        }
        if (next.isEmpty()) {
            finished = true;
            mediator.iteration(iterationBefore);
            mediator.loop(outer);
            return false;
        }
        return true;
    }

    @Override
    public Integer next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the loop over " + steps + " has ended");
        }
        int step = next.getAsInt();
        next = null;
        index++;
        mediator.iteration(step);
        return step;
    }
}
