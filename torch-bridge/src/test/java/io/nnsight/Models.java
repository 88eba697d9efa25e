package io.nnsight;

import io.nnsight.Tensors;
import io.nnsight.internal.engine.ThreadEngine;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import io.nnsight.nn.Mlp;
import io.nnsight.nn.Sequential;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** The models of nnsight's test suite, built from the bridge's modules, and checks shared by the tests. */
final class Models {
    private Models() {}

    /** nnsight's tiny model: {@code layer1} = Linear(5, 10), {@code layer2} = Linear(10, 2). */
    static Sequential tiny() {
        torch.manual_seed(0);
        return new Sequential().add("layer1", new Linear(5, 10)).add("layer2", new Linear(10, 2));
    }

    /** nnsight's tiny input: rand(1, 5). */
    static Tensor tinyInput() {
        return torch.rand(1, 5);
    }

    /** The benchmark MLP: 12 blocks of Linear(64, 64) + ReLU, then Linear(64, 10). */
    static Mlp mlp() {
        torch.manual_seed(0);
        return new Mlp(64, 12, 10);
    }

    /** A model that calls one module three times in one forward pass: {@code head(layer(layer(layer(x))))}. */
    static final class Repeated extends HookedModule implements TensorModule {
        final Linear layer = register("layer", new Linear(4, 4));
        final Linear head = register("head", new Linear(4, 2));

        Repeated() {
            torch.manual_seed(0);
        }

        @Override
        public Tensor forward(Tensor input) {
            return hooked(input, x -> head.forward(layer.forward(layer.forward(layer.forward(x)))));
        }
    }

    /** One call site in a loop: {@code layer} three times, then {@code head}. */
    static final class Looped extends HookedModule implements TensorModule {
        final Linear layer = register("layer", new Linear(4, 4));
        final Linear head = register("head", new Linear(4, 2));

        @Override
        public Tensor forward(Tensor input) {
            return hooked(input, x -> {
                Tensor hidden = x;
                for (int i = 0; i < 3; i++) {
                    hidden = torch.relu(layer.forward(hidden));
                }
                return head.forward(hidden);
            });
        }
    }

    /** Whether two tensors hold the same numbers (to float rounding). */
    static boolean same(Tensor a, Tensor b) {
        return java.util.Arrays.equals(Tensors.shape(a), Tensors.shape(b)) && torch.allclose(a, b, 1e-5, 1e-6, false);
    }

    /** Asserts that no trace left a body thread running. */
    static void assertNoBodyThreads() {
        org.junit.jupiter.api.Assertions.assertEquals(0, ThreadEngine.liveBodies(), "body threads left running");
    }
}
