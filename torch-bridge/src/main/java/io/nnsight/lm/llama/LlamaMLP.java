package io.nnsight.lm.llama;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import io.nnsight.nn.SiLU;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Tensor;

/** Llama's gated MLP: {@code down_proj(act_fn(gate_proj(x)) * up_proj(x))}. */
public final class LlamaMLP extends HookedModule implements TensorModule {
    private final Linear gateProj;
    private final Linear upProj;
    private final Linear downProj;
    private final SiLU activation;

    /** The MLP of a model with the given sizes. */
    public LlamaMLP(LlamaConfig config) {
        this.gateProj = register("gate_proj", new Linear(config.hiddenSize(), config.intermediateSize(), config.mlpBias()));
        this.upProj = register("up_proj", new Linear(config.hiddenSize(), config.intermediateSize(), config.mlpBias()));
        this.downProj = register("down_proj", new Linear(config.intermediateSize(), config.hiddenSize(), config.mlpBias()));
        this.activation = register("act_fn", new SiLU());
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> downProj.forward(activation.forward(gateProj.forward(x)).mul(upProj.forward(x))));
    }
}
