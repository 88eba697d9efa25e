package io.nnsight.nn;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** The hyperbolic tangent, element-wise. */
public final class Tanh extends HookedModule implements TensorModule {
    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, torch::tanh);
    }
}
