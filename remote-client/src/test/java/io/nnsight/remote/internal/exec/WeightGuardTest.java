package io.nnsight.remote.internal.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.nn.Linear;
import io.nnsight.nn.Sequential;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class WeightGuardTest {
    @Test
    void restoreIfChanged_nothingChanged_changesNothing() {
        NNsight model = NNsight.wrap(new Linear(3, 2));

        assertEquals(List.of(), new WeightGuard(model).restoreIfChanged());
    }

    @Test
    void restoreIfChanged_parameterChangedInPlace_isRestoredFromItsCopy() {
        Linear layer = new Linear(3, 2);
        Tensor original = layer.weight().clone();
        WeightGuard guard = new WeightGuard(NNsight.wrap(layer));

        layer.weight().detach().mul_(new Scalar(5.0));

        assertEquals(List.of("weight"), guard.restoreIfChanged());
        assertTrue(original.equal(layer.weight()));
        assertEquals(List.of(), guard.restoreIfChanged(), "restoring is not a change for the next job");
    }

    @Test
    void restoreIfChanged_bufferChangedInPlace_isRestored() {
        Sequential model = new Sequential(new Linear(3, 2));
        Tensor buffer = model.register_buffer("scale", torch.ones(2));
        WeightGuard guard = new WeightGuard(NNsight.wrap(model));

        buffer.fill_(new Scalar(7.0));

        assertEquals(List.of("scale"), guard.restoreIfChanged());
        assertTrue(torch.ones(2).equal(model.named_buffers(true).get(0).value()));
    }

    @Test
    void guardMadeInsideAScope_outlivesTheScope() {
        Linear layer = new Linear(3, 2);
        Tensor original = layer.weight().clone();
        WeightGuard guard;
        try (PointerScope scope = new PointerScope()) {
            guard = new WeightGuard(NNsight.wrap(layer));
        }
        System.gc();

        layer.weight().detach().zero_();

        assertEquals(List.of("weight"), guard.restoreIfChanged());
        assertTrue(original.equal(layer.weight()));
    }
}
