package io.nnsight.remote.internal.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.nn.Linear;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/** The guard that keeps hosted weights as loaded. */
class WeightGuardTest {
    @Test
    void restoreIfChanged_afterAnInPlaceChange_restoresTheWeights_andNamesThem() throws InterruptedException {
        NNsight model = NNsight.wrap(new Linear(4, 4));
        Tensor weight = model.module().named_parameters(true).get("weight");
        Tensor original = weight.clone();
        WeightGuard guard = new WeightGuard(model);
        // The parameter dictionary the guard read its handles from is garbage now: the handles must outlive it
        // (they once pointed into it, and read freed memory once the GC had run and the memory was reused).
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
            List<Tensor> churn = new ArrayList<>();
            for (int j = 0; j < 200; j++) {
                churn.add(model.module().named_parameters(true).get("bias").clone());
            }
            churn.clear();
        }

        assertEquals(List.of(), guard.restoreIfChanged());
        try (NoGradGuard noGrad = new NoGradGuard()) {
            weight.add_(new Scalar(1.0));
        }
        assertEquals(List.of("weight"), guard.restoreIfChanged());
        assertTrue(weight.equal(original));
        assertEquals(List.of(), guard.restoreIfChanged());
    }
}
