package io.nnsight.remote.internal.sandbox;

import java.util.concurrent.Callable;

/**
 * A value of the job running on the current thread, seen by the threads the job's code causes to be started
 * too (an {@link InheritableThreadLocal}: the thread engine runs trace bodies on threads the job's thread
 * makes), and set only for the length of a call.
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
        T outer = value.get();
        value.set(current);
        try {
            return work.call();
        } finally {
            if (outer == null) {
                value.remove();
            } else {
                value.set(outer);
            }
        }
    }
}
