package io.nnsight.nn;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** {@code x * sigmoid(x)}, element-wise (also called swish; Llama's MLP activation). */
public final class SiLU extends HookedModule implements TensorModule {
    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, torch::silu);
    }
}
