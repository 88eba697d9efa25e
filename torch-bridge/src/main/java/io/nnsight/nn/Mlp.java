package io.nnsight.nn;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A multi-layer perceptron: {@code layers}, a list of {@code depth} blocks of {@code Linear(width, width)}
 * then {@code ReLU}, followed by a {@code head} of {@code Linear(width, outputs)}.
 *
 * <p>With width 64, depth 12 and 10 outputs it is the model of nnsight's published overhead benchmark;
 * its module paths are {@code layers.0} ... {@code layers.11} (each with children {@code 0}, the linear
 * layer, and {@code 1}, the activation) and {@code head}.
 */
public final class Mlp extends HookedModule implements TensorModule {
    private final ModuleList<Sequential> layers;
    private final Linear head;

    /** An MLP on inputs of size {@code width}. */
    public Mlp(long width, int depth, long outputs) {
        List<Sequential> blocks = new ArrayList<>(depth);
        for (int i = 0; i < depth; i++) {
            blocks.add(new Sequential(new Linear(width, width), new ReLU()));
        }
        this.layers = register("layers", new ModuleList<>(blocks));
        this.head = register("head", new Linear(width, outputs));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::compute);
    }

    private Tensor compute(Tensor input) {
        Tensor x = input;
        for (Sequential layer : layers) {
            x = layer.forward(x);
        }
        return head.forward(x);
    }

    /** The blocks. */
    public ModuleList<Sequential> layers() {
        return layers;
    }

    /** The output layer. */
    public Linear head() {
        return head;
    }
}
