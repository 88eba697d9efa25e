package io.nnsight.lm.decoder;

/**
 * How a family's mixture of experts routes ({@link DecoderSpec.Builder#sparseMoe}): each token goes to {@code
 * perToken} of {@code experts} gated MLPs of {@code intermediateSize} features, weighted by the softmax of the
 * router's logits over the picked experts, renormalised to sum to 1 if {@code renormalize}, and cast to the
 * model's type if {@code weightsInModelType} (Qwen 3 MoE, OLMoE; Mixtral keeps them in float32).
 *
 * @param experts {@code num_local_experts}, {@code num_experts}
 * @param perToken {@code num_experts_per_tok}
 * @param intermediateSize an expert's {@code intermediate_size} ({@code moe_intermediate_size} for Qwen)
 * @param renormalize Mixtral's always, {@code norm_topk_prob} elsewhere
 * @param weightsInModelType whether the picked experts' weights are cast to the router logits' type
 */
public record MixtureOfExperts(int experts, int perToken, long intermediateSize, boolean renormalize,
        boolean weightsInModelType) {
    /** Checks the arguments. */
    public MixtureOfExperts {
        if (experts < 1 || perToken < 1 || perToken > experts || intermediateSize < 1) {
            throw new IllegalArgumentException("a mixture of " + experts + " experts of " + intermediateSize
                    + " features cannot give each token " + perToken);
        }
    }
}
