package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.nn.Linear;
import io.nnsight.nn.Sequential;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link WeightGuard}: notices a parameter or buffer changed in place and restores it, and nothing else. */
class WeightGuardTest {
    private static LanguageModel lm;
    private static LanguageModel other;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        other = Shared.stories();
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
    void restoreIfChanged_afterGarbageCollection_leavesUnchangedWeightsAlone() throws InterruptedException {
        WeightGuard guard = new WeightGuard(lm);
        List<Object> reuse = collectGarbage(); // freed the parameter dict the guard's handles used to point into

        assertEquals(List.of(), guard.restoreIfChanged());
        assertEquals(List.of(), guard.restoreIfChanged());
    }

    @Test
    void restoreIfChanged_languageModelWeightChanged_reloadsItFromTheCheckpoint() throws InterruptedException {
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

    @Test
    void restoreIfChanged_languageModelWeightSetToAnotherShape_reloadsItWithItsShape() {
        WeightGuard guard = new WeightGuard(lm);
        Tensor norm = parameter("model.norm.weight");
        Tensor before = norm.clone();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            norm.set_(torch.zeros(3, 3));
        }

        assertEquals(List.of("model.norm.weight"), guard.restoreIfChanged());
        Tensor restored = parameter("model.norm.weight");
        assertArrayEquals(before.sizes().vec().get(), restored.sizes().vec().get());
        assertTrue(before.equal(restored));
        assertEquals(List.of(), guard.restoreIfChanged());
    }

    @Test
    void restoreIfChanged_weightReboundToAnAlias_getsStorageOfItsOwnBack() {
        Linear layer = new Linear(3, 2);
        Tensor original = layer.weight().clone();
        WeightGuard guard = new WeightGuard(NNsight.wrap(layer));
        Tensor alias = torch.ones(2, 3);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            layer.weight().set_(alias); // the weight now shares the alias's storage, whose counter is its own
        }
        alias.mul_(new Scalar(4.0));

        assertEquals(List.of("weight"), guard.restoreIfChanged());
        assertTrue(original.equal(layer.weight()));
        alias.zero_();
        assertTrue(original.equal(layer.weight()), "the alias no longer reaches the weight");
    }

    @Test
    void restoreIfChanged_flagsChanged_areReset() {
        Linear layer = new Linear(3, 2);
        Tensor original = layer.weight().clone();
        boolean requiresGrad = layer.weight().requires_grad();
        WeightGuard guard = new WeightGuard(NNsight.wrap(layer));

        layer.weight()._set_neg(true);
        layer.bias().set_requires_grad(!layer.bias().requires_grad());

        assertEquals(List.of("weight", "bias"), guard.restoreIfChanged());
        assertFalse(layer.weight().is_neg());
        assertEquals(requiresGrad, layer.bias().requires_grad());
        assertTrue(original.equal(layer.weight()));
    }

    @Test
    void restoreIfChanged_weightTransposedInPlace_getsItsLayoutBack() {
        Linear layer = new Linear(3, 3);
        Tensor original = layer.weight().clone();
        WeightGuard guard = new WeightGuard(NNsight.wrap(layer));

        try (NoGradGuard noGrad = new NoGradGuard()) {
            layer.weight().transpose_(0, 1); // the same sizes, strides swapped
        }
        assertArrayEquals(new long[] {1, 3}, layer.weight().strides().vec().get());

        assertEquals(List.of("weight"), guard.restoreIfChanged());
        assertArrayEquals(new long[] {3, 1}, layer.weight().strides().vec().get());
        assertTrue(original.equal(layer.weight()));
        assertEquals(List.of(), guard.restoreIfChanged());
    }

    @Test
    void restoreIfChanged_gradientLeftBehind_isDropped() {
        Linear layer = new Linear(3, 2);
        WeightGuard guard = new WeightGuard(NNsight.wrap(layer));

        layer.forward(torch.ones(1, 3)).sum().backward();
        assertTrue(layer.weight().grad().defined());

        assertEquals(List.of("weight", "bias"), guard.restoreIfChanged());
        assertFalse(layer.weight().grad().defined(), "a gradient would tell the next job this one's input");
        assertEquals(List.of(), guard.restoreIfChanged());
    }

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
