package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import io.nnsight.nn.TensorModule;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A mixture of experts in place of a layer's MLP (transformers' {@code MixtralSparseMoeBlock}): each token's hidden
 * state goes to the router ({@code gate}, a {@link TopKRouter}), which picks its top {@code k} experts and their
 * weights, and to those experts ({@code experts}, {@link Experts}), whose outputs, weighted, add up to the block's
 * output, of the input's shape. Tokens are routed one by one, so rows of a batch do not affect each other.
 *
 * <p>With a shared expert ({@link MixtureOfExperts#sharedExpertSize()}, transformers' {@code Qwen2MoeSparseMoeBlock}),
 * every token also goes to {@code shared_expert} (a {@link GatedMlp}), whose output, scaled by the sigmoid of {@code
 * shared_expert_gate} (a {@link Linear} to one feature), adds to the experts'. The modules run in transformers'
 * order: {@code shared_expert}, {@code gate}, {@code experts}, {@code shared_expert_gate}.
 */
public final class SparseMoeBlock extends HookedModule implements TensorModule {
    private final DecoderSpec spec;
    private final TopKRouter router;
    private final Experts experts;
    private final GatedMlp sharedExpert;
    private final Linear sharedExpertGate;

    /** The block of a layer, its weights uninitialised until loaded. */
    public SparseMoeBlock(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        this.router = register("gate", new TopKRouter(spec, placement));
        this.experts = register("experts", new Experts(spec, placement));
        long shared = spec.moe.sharedExpertSize();
        this.sharedExpert = shared == 0 ? null : register("shared_expert", new GatedMlp(spec, shared, placement));
        this.sharedExpertGate = shared == 0 ? null
                : register("shared_expert_gate", new Linear(placement.parameter(1, spec.hiddenSize), null));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::compute);
    }

    private Tensor compute(Tensor hidden) {
        Tensor tokens = hidden.reshape(-1, spec.hiddenSize);
        Tensor shared = sharedExpert == null ? null : sharedExpert.forward(tokens);
        List<Tensor> routed = router.forward(tokens);
        Tensor output = experts.forward(Inputs.of(tokens, routed.get(2), routed.get(1)));
        if (shared != null) {
            output = output.add(torch.sigmoid(sharedExpertGate.forward(tokens)).mul(shared));
        }
        return output.reshape(hidden.sizes());
    }

    @Override
    public String describe() {
        return spec.family + "SparseMoeBlock(experts=" + spec.moe.experts() + ", per token=" + spec.moe.perToken()
                + (sharedExpert == null ? "" : ", shared expert=" + spec.moe.sharedExpertSize()) + ")";
    }
}
