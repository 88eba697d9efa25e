package io.nnsight.lm.decoder;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * The gated MLP of Llama and most families since: {@code down(act(gate(x)) * up(x))}, with the gate and up
 * projections separate ({@code gate_proj}, {@code up_proj}) or one projection whose first half is the gate
 * (Phi-3's {@code gate_up_proj}). SwiGLU with SiLU, GeGLU with GELU (Gemma).
 */
public final class GatedMlp extends HookedModule implements TensorModule {
    private final DecoderSpec spec;
    private final TensorModule gate;
    private final TensorModule up;
    private final TensorModule gateUp;
    private final TensorModule down;
    private final TensorModule activation;
    private final long inner;

    /** The MLP of a layer, its weights uninitialised until loaded. */
    public GatedMlp(DecoderSpec spec, Placement placement) {
        this(spec, spec.intermediateSize, placement);
    }

    /** A gated MLP of {@code inner} features (a mixture's shared expert), its weights uninitialised until loaded. */
    GatedMlp(DecoderSpec spec, long inner, Placement placement) {
        this.spec = spec;
        this.inner = inner;
        long hidden = spec.hiddenSize;
        if (spec.mlpNames.size() == 3) {
            this.gate = child(spec.mlpNames.get(0), spec.projection(hidden, inner, spec.mlpBias, placement));
            this.up = child(spec.mlpNames.get(1), spec.projection(hidden, inner, spec.mlpBias, placement));
            this.gateUp = null;
        } else {
            this.gate = null;
            this.up = null;
            this.gateUp = child(spec.mlpNames.get(0), spec.projection(hidden, 2 * inner, spec.mlpBias, placement));
        }
        this.down = child(spec.mlpNames.get(spec.mlpNames.size() - 1),
                spec.projection(inner, hidden, spec.mlpBias, placement));
        this.activation = child(spec.activationName, spec.activation.module());
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::compute);
    }

    private Tensor compute(Tensor x) {
        Tensor gated;
        Tensor upped;
        if (gateUp == null) {
            gated = gate.forward(x);
            upped = up.forward(x);
        } else {
            TensorVector halves = gateUp.forward(x).chunk(2, -1);
            gated = halves.get(0);
            upped = halves.get(1);
        }
        return down.forward(activation.forward(gated).mul(upped)); // one call site: .source's mul_0 in every family
    }

    private TensorModule child(String name, HookedModule module) {
        return (TensorModule) register(name, module);
    }

    @Override
    public String describe() {
        return spec.family + "MLP(hidden=" + spec.hiddenSize + ", intermediate=" + inner + ")";
    }
}
