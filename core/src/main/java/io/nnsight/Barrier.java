package io.nnsight;

import io.nnsight.internal.BarrierState;
import io.nnsight.internal.TraceRun;

/**
 * A meeting point for invokes that touch the same module, made by {@link Tracer#barrier(int)}.
 *
 * <p>At each module the model serves its invokes one after the other, in invoke order. When invoke 2
 * needs a value that invoke 1 computes from the same module, invoke 2 would be served before invoke 1
 * has produced it. A barrier fixes the order: no participant continues past {@link #await()} until all
 * have reached it.
 *
 * <pre>{@code
 * model.trace(tr -> {
 *     Barrier barrier = tr.barrier(2);
 *     AtomicReference<Tensor> clean = new AtomicReference<>();
 *     tr.invoke(cleanInput, () -> {
 *         clean.set(model.get("layers.2").output().clone());
 *         barrier.await();
 *     });
 *     return tr.invoke(corruptedInput, () -> {
 *         barrier.await();
 *         model.get("layers.2").output().copy_(clean.get());
 *         return model.get("head").output();
 *     });
 * });
 * }</pre>
 *
 * <p>When the invoke that computes the value returns right after computing it, no barrier is needed: read its
 * result in the other invoke ({@link Invoke#get()} waits for it there). A barrier is for invokes that go on
 * after the value, as the clean invoke above could.
 *
 * <p>A barrier can be used again once released. Participants that never arrive make the others fail
 * with a {@link TraceException} when the run ends.
 */
public final class Barrier {
    private final BarrierState state;
    private final TraceRun run;

    Barrier(BarrierState state, TraceRun run) {
        this.state = state;
        this.run = run;
    }

    /** Waits until every participant has arrived. */
    public void await() {
        run.requester("barrier.await()").arrive(state);
    }
}
