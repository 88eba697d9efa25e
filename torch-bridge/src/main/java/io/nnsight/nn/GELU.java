package io.nnsight.nn;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The Gaussian error linear unit, element-wise: exact ({@code x * Phi(x)}), or its tanh approximation
 * (GPT-2's {@code gelu_new}).
 */
public final class GELU extends HookedModule implements TensorModule {
    private final boolean tanhApproximation;

    /** The exact GELU. */
    public GELU() {
        this(false);
    }

    /** The exact GELU, or the tanh approximation when {@code tanhApproximation} is true. */
    public GELU(boolean tanhApproximation) {
        this.tanhApproximation = tanhApproximation;
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> torch.gelu(x, tanhApproximation ? "tanh" : "none"));
    }

    @Override
    public String describe() {
        return "GELU(approximate='" + (tanhApproximation ? "tanh" : "none") + "')";
    }
}
