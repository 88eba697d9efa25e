package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A mixture of experts in place of a layer's MLP whose output is {@code [hidden states, routing weights]}, as
 * transformers' {@code GptOssMLP} returns them: each token's hidden state goes to the router ({@code router}, a {@link
 * TopKRouter}), which picks its top {@code k} experts and their weights, and to those experts ({@code experts}, {@link
 * Experts}), whose outputs, weighted, add up to the hidden states, of the input's shape; the routing weights are
 * {@code [tokens, k]}. A trace reads the layer's MLP output as {@code mlp.output(List.class).get(0)}, as Python's
 * nnsight reads {@code mlp.output[0]}. Tokens are routed one by one, so rows of a batch do not affect each other.
 */
public final class ScoringMoeBlock extends HookedModule {
    private final DecoderSpec spec;
    private final TopKRouter router;
    private final Experts experts;

    /** The block of a layer, its weights uninitialised until loaded. */
    public ScoringMoeBlock(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        this.router = register("router", new TopKRouter(spec, placement));
        this.experts = register("experts", new Experts(spec, placement));
    }

    /** The block's {@code [hidden states, routing weights]} for {@code hidden}. */
    @SuppressWarnings("unchecked")
    public List<Tensor> forward(Tensor hidden) {
        return (List<Tensor>) hooked(Inputs.of(hidden), this::compute);
    }

    private List<Tensor> compute(Inputs in) {
        Tensor hidden = in.tensor(0);
        Tensor tokens = hidden.reshape(-1, spec.hiddenSize);
        List<Tensor> routed = router.forward(tokens);
        Tensor output = experts.forward(Inputs.of(tokens, routed.get(2), routed.get(1)));
        return List.of(output.reshape(hidden.sizes()), routed.get(1));
    }

    @Override
    public String describe() {
        return spec.family + "MLP(experts=" + spec.moe.experts() + ", per token=" + spec.moe.perToken() + ")";
    }
}
