package io.nnsight.lm.decoder;

/**
 * How a family's mixture of experts routes ({@link DecoderSpec.Builder#sparseMoe}): each token goes to {@code
 * perToken} of {@code experts} gated MLPs of {@code intermediateSize} features, weighted by the softmax of the
 * router's logits over the picked experts, renormalised to sum to 1 if {@code renormalize}, and cast to the
 * model's type if {@code weightsInModelType} (Qwen 3 MoE, OLMoE; Mixtral keeps them in float32). With {@code
 * sharedExpertSize} features (Qwen 2 MoE), every token also goes to a shared expert, a gated MLP whose output,
 * scaled by the sigmoid of its own gate ({@code shared_expert_gate}), adds to the routed experts'.
 *
 * @param experts {@code num_local_experts}, {@code num_experts}
 * @param perToken {@code num_experts_per_tok}
 * @param intermediateSize an expert's {@code intermediate_size} ({@code moe_intermediate_size} for Qwen)
 * @param renormalize Mixtral's always, {@code norm_topk_prob} elsewhere
 * @param weightsInModelType whether the picked experts' weights are cast to the router logits' type
 * @param sharedExpertSize the shared expert's {@code shared_expert_intermediate_size}; 0: no shared expert
 */
public record MixtureOfExperts(int experts, int perToken, long intermediateSize, boolean renormalize,
        boolean weightsInModelType, long sharedExpertSize) {
    /** Checks the arguments. */
    public MixtureOfExperts {
        if (experts < 1 || perToken < 1 || perToken > experts || intermediateSize < 1) {
            throw new IllegalArgumentException("a mixture of " + experts + " experts of " + intermediateSize
                    + " features cannot give each token " + perToken);
        }
        if (sharedExpertSize < 0) {
            throw new IllegalArgumentException("a shared expert cannot have " + sharedExpertSize + " features");
        }
    }
}
