package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Envoy;
import io.nnsight.NNsight;
import io.nnsight.Tracer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Whether the {@link Sandbox} finds that shipped code can use autograd ({@link AutogradUse}): the executor runs code
 * that cannot with autograd off. Each case is one class, checked as a job's code is.
 */
class AutogradUseTest {
    private final Sandbox sandbox = Sandbox.server();

    /** Reads, changes and returns activations: the common intervention, which cannot tell. */
    static final class Steers {
        static Tensor steer(NNsight model) {
            Tensor hidden = model.get("model.layers.1").output();
            hidden.mul_(new Scalar(2.0));
            return model.get("lm_head").output().select(1, -1).softmax(-1);
        }
    }

    /** Changes one of several views in place: libtorch refuses that with autograd on, but the name says nothing. */
    static final class ChangesAChunk {
        static Tensor zeroHalf(Tensor hidden) {
            return hidden.chunk(2, -1).get(0).zero_();
        }
    }

    static final class RunsBackward {
        static Object attribution(Tracer tr, NNsight model, Tensor metric) {
            return tr.backward(metric, () -> model.get("model.layers.2").grad());
        }
    }

    /** A method reference: the call is a bootstrap argument of an {@code invokedynamic}, not an instruction. */
    static final class ReferencesGrad {
        static Supplier<Tensor> gradient(Envoy layer) {
            return layer::grad;
        }
    }

    static final class SetsAGradient {
        static void scale(Envoy layer, Tensor factor) {
            layer.setInputGrad(factor);
        }
    }

    static final class AsksRequiresGrad {
        static boolean recorded(Tensor hidden) {
            return hidden.requires_grad();
        }
    }

    static final class AsksIsLeaf {
        static boolean leaf(Tensor hidden) {
            return hidden.is_leaf();
        }
    }

    /** A tensor of its own that requires a gradient: with autograd off, operations on it would record nothing. */
    static final class MakesALeafThatRequiresGrad {
        static Tensor vector() {
            return torch.zeros(new long[] {64}, new TensorOptions().requires_grad(new BoolOptional(true)));
        }
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(Steers.class, false),
                Arguments.of(ChangesAChunk.class, false),
                Arguments.of(RunsBackward.class, true),
                Arguments.of(ReferencesGrad.class, true),
                Arguments.of(SetsAGradient.class, true),
                Arguments.of(AsksRequiresGrad.class, true),
                Arguments.of(AsksIsLeaf.class, true),
                Arguments.of(MakesALeafThatRequiresGrad.class, true));
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void prepare_tellsWhetherCodeCanUseAutograd(Class<?> code, boolean usesAutograd) {
        assertEquals(usesAutograd, sandbox.prepare(ClassFiles.of(code)).usesAutograd(), code.getSimpleName());
    }

    @Test
    void prepare_ofCodeWithOneClassThatCanUseAutograd_tellsItForAll() {
        Map<String, byte[]> classes = new LinkedHashMap<>(ClassFiles.of(Steers.class));
        classes.putAll(ClassFiles.of(AsksIsLeaf.class));

        assertTrue(sandbox.prepare(classes).usesAutograd());
    }

    @Test
    void prepare_ofCodeThatCannotUseAutograd_tellsIt_alsoWhenCached() {
        for (Class<?> code : List.of(Benign.class, Steers.class)) {
            assertFalse(sandbox.prepare(ClassFiles.of(code)).usesAutograd(), code.getSimpleName());
            assertFalse(sandbox.prepare(ClassFiles.of(code)).usesAutograd(), code.getSimpleName() + ", cached");
        }
        assertTrue(sandbox.prepare(ClassFiles.of(AsksIsLeaf.class)).usesAutograd());
        assertTrue(sandbox.prepare(ClassFiles.of(AsksIsLeaf.class)).usesAutograd(), "cached");
    }

    @Test
    void named_countsOnlyNnsightsAndTorchsMembers() {
        assertTrue(AutogradUse.named("org.bytedeco.pytorch.Tensor", "grad_fn"));
        assertTrue(AutogradUse.named("io.nnsight.Tracer", "backward"));
        assertTrue(AutogradUse.named("org.bytedeco.pytorch.TensorBase", "output_nr"));
        assertFalse(AutogradUse.named("com.example.Probe", "gradient"), "shipped code's own names do not count");
        assertFalse(AutogradUse.named("java.util.List", "backward"));
        assertFalse(AutogradUse.named("org.bytedeco.pytorch.Tensor", "mul_"));
    }
}
