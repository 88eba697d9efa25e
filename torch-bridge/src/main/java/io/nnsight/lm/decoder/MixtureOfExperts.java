package io.nnsight.lm.decoder;

import java.util.Objects;

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
 * @param kind how the router picks and the experts compute
 */
public record MixtureOfExperts(int experts, int perToken, long intermediateSize, boolean renormalize,
        boolean weightsInModelType, long sharedExpertSize, Kind kind) {
    /** How the router picks each token's experts and how the experts compute, by the families that do it so. */
    public enum Kind {
        /**
         * Mixtral's and most: the router ({@code gate}, no bias) takes the softmax of the logits over all experts,
         * then the top {@code k}; each expert is a gated MLP of the layout's activation ({@code act_fn}), {@code
         * gate_up_proj} {@code [experts, 2 * intermediate, hidden]} (gate first) and {@code down_proj} {@code [experts,
         * hidden, intermediate]}, without biases. The block's output is the hidden states ({@link SparseMoeBlock}).
         */
        SOFTMAX_THEN_TOP_K,
        /**
         * GPT-OSS's: the router ({@code router}, with a bias) takes the top {@code k} logits, then their softmax;
         * each expert's {@code gate_up_proj} is {@code [experts, hidden, 2 * intermediate]} with the gate and up
         * features interleaved (gate at even indices), {@code down_proj} {@code [experts, intermediate, hidden]}, both
         * with biases; the gate is clamped at 7 and the up values to [-7, 7], and the expert computes {@code (up + 1)
         * * gate * sigmoid(1.702 * gate)}. The block's output is {@code [hidden states, routing weights]} ({@link
         * ScoringMoeBlock}).
         */
        TOP_K_THEN_SOFTMAX
    }

    /** Checks the arguments. */
    public MixtureOfExperts {
        if (experts < 1 || perToken < 1 || perToken > experts || intermediateSize < 1) {
            throw new IllegalArgumentException("a mixture of " + experts + " experts of " + intermediateSize
                    + " features cannot give each token " + perToken);
        }
        Objects.requireNonNull(kind, "kind");
        if (sharedExpertSize < 0) {
            throw new IllegalArgumentException("a shared expert cannot have " + sharedExpertSize + " features");
        }
    }
}
