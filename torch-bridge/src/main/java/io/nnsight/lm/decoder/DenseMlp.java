package io.nnsight.lm.decoder;

import io.nnsight.nn.Dropout;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Tensor;

/**
 * The plain MLP of GPT-2 and GPT-NeoX: {@code down(act(up(x)))}, with biases, then, for GPT-2, a dropout
 * ({@code c_fc}, {@code act}, {@code c_proj}, {@code dropout}; {@code dense_h_to_4h}, {@code act}, {@code
 * dense_4h_to_h}).
 */
public final class DenseMlp extends HookedModule implements TensorModule {
    private final DecoderSpec spec;
    private final TensorModule up;
    private final TensorModule down;
    private final TensorModule activation;
    private final Dropout dropout;

    /** The MLP of a layer, its weights uninitialised until loaded. */
    public DenseMlp(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        this.up = child(spec.mlpNames.get(0), spec.projection(spec.hiddenSize, spec.intermediateSize, spec.mlpBias,
                placement));
        this.down = child(spec.mlpNames.get(1), spec.projection(spec.intermediateSize, spec.hiddenSize, spec.mlpBias,
                placement));
        this.activation = child(spec.activationName, spec.activation.module());
        this.dropout = spec.mlpDropout == null ? null : register(spec.mlpDropout, new Dropout(spec.dropout));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::compute);
    }

    private Tensor compute(Tensor x) {
        Tensor out = down.forward(activation.forward(up.forward(x)));
        return dropout == null ? out : dropout.forward(out);
    }

    private TensorModule child(String name, HookedModule module) {
        return (TensorModule) register(name, module);
    }

    @Override
    public String describe() {
        return spec.family + "MLP(hidden=" + spec.hiddenSize + ", intermediate=" + spec.intermediateSize + ")";
    }
}
