package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.Inputs;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.ModuleHook;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * What traces of one wrapper need: how to run the model, how to batch its inputs, its traceable modules,
 * and the hooks on them.
 *
 * <p>Each traceable module gets one hook when the wrapper is made. A hook is idle unless a trace of this
 * wrapper runs on the calling thread, so a wrapped model runs at bare speed outside traces, and several
 * wrappers on one model do not see each other's traces. The hooks reference this target, never the
 * wrapper itself: when the wrapper becomes unreachable, a {@link Cleaner} removes them.
 */
public final class TraceTarget {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Batchable batchable;
    private final String[] paths;
    private final int moduleCount;
    private final Map<String, Integer>[] operationBases;
    private final ReentrantLock lock = new ReentrantLock();
    private final UnaryOperator<String> naming;
    private boolean[] batchSensitive = new boolean[0];
    /** The trace running now, or {@code null}: written by {@link Running} only, which is how to find it. */
    volatile TraceRun running;

    /**
     * Hooks the given modules.
     *
     * @param owner the wrapper; the hooks are removed when it is garbage collected
     * @param hookPoints the hook point of each traceable module, by index
     * @param paths the path of each traceable module, then of each operation in their code, by index
     * @param operationBases for each module, the index of the first operation of each class of its code
     * @param naming how messages name a path (with its aliases); it must not reference the owner
     */
    public TraceTarget(Object owner, Batchable batchable, List<HookPoint> hookPoints,
            String[] paths, Map<String, Integer>[] operationBases, UnaryOperator<String> naming) {
        this.batchable = batchable;
        this.paths = paths;
        this.naming = naming;
        this.moduleCount = hookPoints.size();
        this.operationBases = operationBases;
        List<HookPoint.Registration> registrations = new ArrayList<>(hookPoints.size());
        for (int index = 0; index < hookPoints.size(); index++) {
            registrations.add(hookPoints.get(index).add(new TraceHook(this, index)));
        }
        CLEANER.register(owner, () -> registrations.forEach(HookPoint.Registration::close));
    }

    Batchable batchable() {
        return batchable;
    }

    /** Marks module {@code index} as {@link io.nnsight.spi.BatchSensitive}; while the wrapper is built. */
    public void markBatchSensitive(int index) {
        if (batchSensitive.length == 0) {
            batchSensitive = new boolean[paths.length];
        }
        batchSensitive[index] = true;
    }

    /** Whether module {@code index} is {@link io.nnsight.spi.BatchSensitive}. */
    boolean isBatchSensitive(int index) {
        return index < batchSensitive.length && batchSensitive[index];
    }

    String[] paths() {
        return paths;
    }

    /** How messages name the module or operation {@code index}: its path, with its aliases. */
    String name(int index) {
        return paths[index].isEmpty() ? "the root module" : naming.apply(paths[index]);
    }

    int moduleCount() {
        return moduleCount;
    }

    Map<String, Integer>[] operationBases() {
        return operationBases;
    }

    /** Waits until no other thread runs a trace of this wrapper, and holds it: traces run one at a time. */
    void lock() {
        lock.lock();
    }

    void unlock() {
        lock.unlock();
    }

    /** The hook on one module: idle unless this target's trace runs on the calling thread. */
    private static final class TraceHook implements ModuleHook {
        private final TraceTarget target;
        private final int index;

        TraceHook(TraceTarget target, int index) {
            this.target = target;
            this.index = index;
        }

        @Override
        public boolean isActive() {
            TraceRun run = Running.trace(target);
            return run != null && run.isObserving();
        }

        /** Whether a body of the trace waits for this module now (called when {@link #isActive()}). */
        @Override
        public boolean isAwaited() {
            return Running.trace(target).interleaver().waitsFor(index);
        }

        @Override
        public Object around(Inputs inputs, Function<Inputs, Object> proceed) {
            return Running.trace(target).interleaver().call(index, inputs, proceed);
        }
    }
}
