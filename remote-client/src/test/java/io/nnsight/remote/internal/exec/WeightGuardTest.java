package io.nnsight.remote.internal.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Stories;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link WeightGuard}: notices a weight changed in place and restores it, and nothing else. */
class WeightGuardTest {
    private static LanguageModel lm;
    private static LanguageModel other;

    @BeforeAll
    static void load() {
        lm = Stories.load();
        other = Stories.load();
    }

    /** A handle of the parameter's own: the dict's handles point into the dict, freed once it is collected. */
    private static Tensor parameter(String name) {
        StringTensorDict named = lm.module().named_parameters(true);
        try {
            return new Tensor(named.get(name));
        } finally {
            Reference.reachabilityFence(named);
        }
    }

    /**
     * Collects garbage until JavaCPP has freed the native objects only it reached, then makes native objects
     * that take the freed memory.
     */
    private static List<Object> collectGarbage() throws InterruptedException {
        long count = Pointer.totalCount();
        for (int i = 0; i < 20 && Pointer.totalCount() >= count; i++) {
            System.gc();
            Thread.sleep(50);
        }
        List<Object> reuse = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            reuse.add(other.module().named_buffers(true));
            reuse.add(other.module().named_parameters(true));
            reuse.add(torch.ones(3));
        }
        return reuse;
    }

    @Test
    void unchangedWeights_afterTheGarbageIsCollected_areLeftAlone() throws InterruptedException {
        WeightGuard guard = new WeightGuard(lm);
        List<Object> reuse = collectGarbage(); // freed the parameter dict the guard's handles used to point into

        assertEquals(List.of(), guard.restoreIfChanged());
        assertEquals(List.of(), guard.restoreIfChanged());
    }

    @Test
    void weightChangedInPlace_isNamed_andRestored() throws InterruptedException {
        WeightGuard guard = new WeightGuard(lm);
        Tensor norm = parameter("model.norm.weight");
        Tensor before = norm.clone();
        List<Object> reuse = collectGarbage();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            norm.add_(new Scalar(1.0));
        }

        assertEquals(List.of("model.norm.weight"), guard.restoreIfChanged());
        assertTrue(before.equal(parameter("model.norm.weight")));
        assertEquals(List.of(), guard.restoreIfChanged());
    }
}
