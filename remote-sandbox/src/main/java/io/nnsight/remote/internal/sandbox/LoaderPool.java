package io.nnsight.remote.internal.sandbox;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * The class loaders of jobs that ended well, kept for the next job that ships the same code: once the code is
 * checked ({@link PreparedCache}), defining a small job's classes, linking them and making its lambdas is most of
 * what its code costs the server, and a loader used again runs code the JIT has already compiled.
 *
 * <pre>{@code
 * JobClassLoader loader = pool.take(prepared);   // null: none is idle, make one
 * ...                                            // the job runs, and ends well
 * pool.give(prepared, loader);                   // its static fields cleared, it waits for the next job
 * }</pre>
 *
 * <p><b>Why a loader given back is as good as a new one.</b> The state a job can leave in its class loader is the
 * state of its classes: their static fields and their initialization. {@link #give} keeps a loader only for code
 * that {@linkplain Sandbox.Prepared#reusable() has no such state of its own}: no static initializer (the client
 * ships none, enums excepted, {@code ClassPlan}) and no dynamic constant (whose value its class would keep), and it
 * clears every static field that can change ({@link JobClassLoader#clearStatics}) before keeping it. Nothing else
 * of a job stays: the sandbox refuses reflection, locks, native methods and threads, and the bootstraps it allows
 * make call sites that hold no value of a job (lambdas, string concatenation, records, switches).
 *
 * <p>One job at a time: a loader is taken by one job and given back by it once its code has returned and its
 * result is written, so two jobs never share one, even in one batch. Only jobs that succeeded give theirs back: a
 * class whose linking failed would stay failed in its loader.
 *
 * <p>Bounded: at most {@code capacity} idle loaders in all, the most recently given back kept first; a loader not
 * kept is left to the garbage collector, which unloads its classes.
 */
final class LoaderPool {
    private final int capacity;
    /** Idle loaders, the most recently given back first. */
    private final ArrayDeque<Idle> idle = new ArrayDeque<>();
    private long taken;

    /** An idle loader, and the code it defines. */
    private record Idle(Sandbox.Prepared code, JobClassLoader loader) {}

    LoaderPool(int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("the pool's capacity must not be negative: " + capacity);
        }
        this.capacity = capacity;
    }

    /** An idle loader of {@code code} (the very instance its preparation gave), or {@code null} when none waits. */
    synchronized JobClassLoader take(Sandbox.Prepared code) {
        for (Iterator<Idle> it = idle.iterator(); it.hasNext(); ) {
            Idle next = it.next();
            if (next.code() == code) {
                it.remove();
                taken++;
                return next.loader();
            }
        }
        return null;
    }

    /**
     * Keeps the loader of a job of {@code code} that succeeded and whose code has returned, for the next job of the
     * same code, if the code {@linkplain Sandbox.Prepared#reusable() allows it}: its static fields are cleared
     * first. The least recently given back goes when more than the capacity wait.
     */
    void give(Sandbox.Prepared code, JobClassLoader loader) {
        if (!code.reusable() || capacity == 0) {
            return;
        }
        try {
            loader.clearStatics(); // outside the lock: this loader is the caller's alone until it is in the pool
        } catch (RuntimeException | LinkageError e) {
            return; // a class of it cannot be initialized (its linking failed): not kept
        }
        synchronized (this) {
            idle.addFirst(new Idle(code, loader));
            if (idle.size() > capacity) {
                idle.removeLast();
            }
        }
    }

    /** How many loaders wait, for tests. */
    synchronized int size() {
        return idle.size();
    }

    /** How many times {@link #take} found one, for tests. */
    synchronized long taken() {
        return taken;
    }
}
