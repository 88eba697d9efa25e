package io.nnsight.lm.llama;

/**
 * The hyper-parameters of a Llama model, as in its {@code config.json}.
 *
 * @param vocabSize {@code vocab_size}
 * @param hiddenSize {@code hidden_size}
 * @param intermediateSize {@code intermediate_size}, the width of the MLP
 * @param layers {@code num_hidden_layers}
 * @param heads {@code num_attention_heads}
 * @param keyValueHeads {@code num_key_value_heads} (fewer than {@code heads} for grouped-query attention)
 * @param headDim {@code head_dim} ({@code hidden_size / num_attention_heads} when absent)
 * @param rmsNormEps {@code rms_norm_eps}
 * @param ropeTheta {@code rope_theta} (or {@code rope_parameters.rope_theta})
 * @param maxPositions {@code max_position_embeddings}
 * @param tieWordEmbeddings {@code tie_word_embeddings}: the output layer shares the embedding's weight
 * @param attentionBias {@code attention_bias}
 * @param mlpBias {@code mlp_bias}
 */
public record LlamaConfig(long vocabSize, long hiddenSize, long intermediateSize, int layers, int heads,
        int keyValueHeads, int headDim, double rmsNormEps, double ropeTheta, int maxPositions,
        boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias) {}
