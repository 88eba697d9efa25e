package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.junit.jupiter.api.Test;

class LibTorchTest {
    @Test
    void initialize_setsOneThread_forLibtorchAndOpenBlas() {
        LibTorch.initialize();

        assertEquals(1, LibTorch.threads());
        assertEquals(1, openblas_nolapack.blas_get_num_threads());
    }

    @Test
    void setThreads_changesBoth() {
        try {
            LibTorch.setThreads(2);
            assertEquals(2, LibTorch.threads());
            assertEquals(2, openblas_nolapack.blas_get_num_threads());
        } finally {
            LibTorch.setThreads(1);
        }
    }

    @Test
    void setThreads_belowOne_isRejected() {
        assertThrows(IllegalArgumentException.class, () -> LibTorch.setThreads(0));
    }
}
