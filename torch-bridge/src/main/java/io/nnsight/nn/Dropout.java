package io.nnsight.nn;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Zeroes each element with probability {@code p} and scales the rest by {@code 1/(1-p)} while the module is
 * in training mode; the identity after {@code eval()}. Like {@code nn.Dropout}.
 */
public final class Dropout extends HookedModule implements TensorModule {
    private final double p;

    /** A dropout with drop probability {@code p}. */
    public Dropout(double p) {
        if (p < 0 || p > 1) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1], got " + p);
        }
        this.p = p;
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> torch.dropout(x, p, is_training()));
    }

    @Override
    public String describe() {
        return "Dropout(p=" + p + ")";
    }
}
