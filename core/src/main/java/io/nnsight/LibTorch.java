package io.nnsight;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.bytedeco.pytorch.global.torch;

/**
 * Process-wide settings of the libtorch runtime that nnsight runs on.
 *
 * <p>libtorch and OpenBLAS both start one worker thread per core for every operation. For the small
 * models and single examples of interpretability work that costs far more than it gains: on a 2-core
 * machine a small {@code Linear} ran 10 times slower with OpenBLAS at its default of 2 threads. nnsight
 * therefore sets both to <b>one thread</b> the first time it touches libtorch (wrapping a model or
 * building a bridge module). Choose another count with the system property {@code nnsight.threads} or
 * the environment variable {@code NNSIGHT_THREADS}, or at run time with {@link #setThreads(int)}.
 */
public final class LibTorch {
    /** The system property that sets the thread count; the environment variable is {@code NNSIGHT_THREADS}. */
    public static final String THREADS_PROPERTY = "nnsight.threads";

    private static volatile boolean initialized;

    private LibTorch() {}

    /**
     * Applies the configured thread count once per process. Called by nnsight before it uses libtorch;
     * calling it again does nothing.
     */
    public static void initialize() {
        if (initialized) {
            return;
        }
        synchronized (LibTorch.class) {
            if (!initialized) {
                setThreads(configuredThreads());
                initialized = true;
            }
        }
    }

    /**
     * Sets the number of threads libtorch's intra-op pool and OpenBLAS use for one operation.
     *
     * @param threads at least 1
     */
    public static void setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        torch.set_num_threads(threads);
        openblas_nolapack.blas_set_num_threads(threads);
    }

    /** The number of threads libtorch's intra-op pool uses now. */
    public static int threads() {
        return torch.get_num_threads();
    }

    private static int configuredThreads() {
        String value = System.getProperty(THREADS_PROPERTY);
        String source = "-D" + THREADS_PROPERTY;
        if (value == null) {
            value = System.getenv("NNSIGHT_THREADS");
            source = "NNSIGHT_THREADS";
        }
        if (value == null || value.isBlank()) {
            return 1;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + " must be a whole number of threads, got '" + value + "'", e);
        }
    }
}
