package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.Linear;
import io.nnsight.spi.HookPoint;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Plain hooks on a bridge module: the building block traces use, usable on its own. */
class HookPointTest {
    private final Linear layer = new Linear(4, 3);
    private final Tensor x = torch.rand(2, 4);

    @Test
    void hook_seesInputsAndOutput() {
        List<Object> seen = new ArrayList<>();
        try (HookPoint.Registration registration = layer.hookPoint().add((inputs, proceed) -> {
            seen.add(inputs.get(0));
            Object output = proceed.apply(inputs);
            seen.add(output);
            return output;
        })) {
            Tensor output = layer.forward(x);

            assertEquals(2, seen.size());
            assertTrue(same(x, (Tensor) seen.get(0)));
            assertTrue(same(output, (Tensor) seen.get(1)));
        }
    }

    @Test
    void hook_canReplaceInputsAndOutput_orSkipTheModule() {
        Tensor zeros = torch.zeros(2, 4);
        try (HookPoint.Registration registration = layer.hookPoint().add(
                (inputs, proceed) -> proceed.apply(inputs.with(0, zeros)))) {
            assertTrue(same(torch.linear(zeros, layer.weight(), new org.bytedeco.pytorch.TensorOptional(layer.bias())),
                    layer.forward(x)));
        }
        Tensor stand = torch.ones(2, 3);
        try (HookPoint.Registration registration = layer.hookPoint().add((inputs, proceed) -> stand)) {
            assertTrue(same(stand, layer.forward(x)));
        }
    }

    @Test
    void hooks_runInTheOrderAdded_firstOutermost() {
        List<String> order = new ArrayList<>();
        HookPoint.Registration outer = layer.hookPoint().add((inputs, proceed) -> {
            order.add("outer in");
            Object out = proceed.apply(inputs);
            order.add("outer out");
            return out;
        });
        HookPoint.Registration inner = layer.hookPoint().add((inputs, proceed) -> {
            order.add("inner in");
            Object out = proceed.apply(inputs);
            order.add("inner out");
            return out;
        });

        layer.forward(x);
        outer.close();
        inner.close();
        inner.close();

        assertEquals(List.of("outer in", "inner in", "inner out", "outer out"), order);
        assertEquals(0, layer.hookPoint().hookCount());
    }

    @Test
    void hookReturningANonTensor_forATensorModule_failsClearly() {
        try (HookPoint.Registration registration = layer.hookPoint().add((inputs, proceed) -> "text")) {
            ClassCastException error = assertThrows(ClassCastException.class, () -> layer.forward(x));
            assertTrue(error.getMessage().contains("String"), error.getMessage());
        }
    }

    @Test
    void inactiveHook_isPassedOver() {
        List<String> calls = new ArrayList<>();
        try (HookPoint.Registration registration = layer.hookPoint().add(new io.nnsight.spi.ModuleHook() {
            @Override
            public Object around(Inputs inputs, java.util.function.Function<Inputs, Object> proceed) {
                calls.add("called");
                return proceed.apply(inputs);
            }

            @Override
            public boolean isActive() {
                return false;
            }
        })) {
            layer.forward(x);
        }

        assertTrue(calls.isEmpty());
    }
}
