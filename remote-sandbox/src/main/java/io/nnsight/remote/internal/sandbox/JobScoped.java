package io.nnsight.remote.internal.sandbox;

import java.util.concurrent.Callable;

/**
 * A value of the job running on the current thread, seen by the threads the job's code causes to be started
 * too (an {@link InheritableThreadLocal}: the thread engine runs trace bodies on threads the job's thread
 * makes), set for the length of a call ({@link #with}), or swapped in and out around pieces of a job's code that
 * do not nest as calls do ({@link #swap}: a trace body of one job of several sharing a forward pass).
 *
 * @param <T> the value's type
 */
final class JobScoped<T> {
    private final InheritableThreadLocal<T> value = new InheritableThreadLocal<>();

    /** The value of the current thread's job, or {@code null} outside jobs. */
    T get() {
        return value.get();
    }

    /** Runs {@code work} with {@code current} as the value, and the value before it afterwards. */
    <R> R with(T current, Callable<R> work) throws Exception {
        T outer = swap(current);
        try {
            return work.call();
        } finally {
            swap(outer);
        }
    }

    /**
     * Makes {@code current} the value of this thread ({@code null}: none) and returns the value before it, which
     * a later {@code swap} of it restores.
     */
    T swap(T current) {
        T outer = value.get();
        if (current == null) {
            value.remove();
        } else {
            value.set(current);
        }
        return outer;
    }
}
