package io.nnsight.nn;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** {@code max(x, 0)}, element-wise. */
public final class ReLU extends HookedModule implements TensorModule {
    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, torch::relu);
    }
}
