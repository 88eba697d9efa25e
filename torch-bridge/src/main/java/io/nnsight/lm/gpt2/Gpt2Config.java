package io.nnsight.lm.gpt2;

/**
 * The hyper-parameters of a GPT-2 model, as in its {@code config.json}.
 *
 * @param vocabSize {@code vocab_size}
 * @param positions {@code n_positions}, the context length
 * @param embedding {@code n_embd}
 * @param layers {@code n_layer}
 * @param heads {@code n_head}
 * @param inner {@code n_inner}, the MLP width ({@code 4 * n_embd} when absent)
 * @param layerNormEps {@code layer_norm_epsilon}
 * @param dropout {@code resid_pdrop}, {@code embd_pdrop} and {@code attn_pdrop} (used in training mode only)
 */
public record Gpt2Config(long vocabSize, int positions, long embedding, int layers, int heads, long inner,
        double layerNormEps, double dropout) {}
