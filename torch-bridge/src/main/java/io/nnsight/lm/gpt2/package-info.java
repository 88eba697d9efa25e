/**
 * The GPT-2 architecture ({@code model_type} {@code gpt2}) as transformers' {@code modeling_gpt2.py} builds it,
 * with its module paths: {@code transformer.wte}, {@code transformer.wpe}, {@code transformer.h.N.attn.c_attn},
 * {@code transformer.h.N.mlp.c_fc}, {@code transformer.ln_f}, {@code lm_head}. {@link
 * io.nnsight.lm.LanguageModel#load} builds it from {@code config.json}.
 */
package io.nnsight.lm.gpt2;
