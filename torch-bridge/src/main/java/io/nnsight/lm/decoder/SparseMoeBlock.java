package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A mixture of experts in place of a layer's MLP (transformers' {@code MixtralSparseMoeBlock}): each token's hidden
 * state goes to the router ({@code gate}, a {@link TopKRouter}), which picks its top {@code k} experts and their
 * weights, and to those experts ({@code experts}, {@link Experts}), whose outputs, weighted, add up to the block's
 * output, of the input's shape. Tokens are routed one by one, so rows of a batch do not affect each other.
 */
public final class SparseMoeBlock extends HookedModule implements TensorModule {
    private final DecoderSpec spec;
    private final TopKRouter router;
    private final Experts experts;

    /** The block of a layer, its weights uninitialised until loaded. */
    public SparseMoeBlock(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        this.router = register("gate", new TopKRouter(spec, placement));
        this.experts = register("experts", new Experts(spec, placement));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::compute);
    }

    private Tensor compute(Tensor hidden) {
        Tensor tokens = hidden.reshape(-1, spec.hiddenSize);
        List<Tensor> routed = router.forward(tokens);
        return experts.forward(Inputs.of(tokens, routed.get(2), routed.get(1))).reshape(hidden.sizes());
    }

    @Override
    public String describe() {
        return spec.family + "SparseMoeBlock(experts=" + spec.moe.experts() + ", per token=" + spec.moe.perToken() + ")";
    }
}
