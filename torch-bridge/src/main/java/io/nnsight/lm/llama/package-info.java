/**
 * The Llama architecture ({@code model_type} {@code llama}) as transformers' {@code modeling_llama.py} builds it,
 * with its module paths: {@code model.embed_tokens}, {@code model.layers.N.self_attn.{q,k,v,o}_proj}, {@code
 * model.layers.N.mlp.{gate,up,down}_proj}, {@code model.norm}, {@code lm_head}. Grouped-query attention and
 * rotary position embeddings; {@link io.nnsight.lm.LanguageModel#load} builds it from {@code config.json}.
 */
package io.nnsight.lm.llama;
