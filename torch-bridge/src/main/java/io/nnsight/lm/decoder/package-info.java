/**
 * The building blocks of decoder-only transformers, from which every family of {@code io.nnsight.lm.families} is
 * built: a {@link io.nnsight.lm.decoder.DecoderSpec} describes one model (sizes, Hugging Face's module names, the
 * options by which families differ), and {@link io.nnsight.lm.decoder.DecoderForCausalLM} builds it from the
 * traceable modules here: {@link io.nnsight.lm.decoder.DecoderModel} (held by an {@link
 * io.nnsight.lm.decoder.ImageTextModel} in an image-text checkpoint), {@link io.nnsight.lm.decoder.DecoderLayer},
 * {@link io.nnsight.lm.decoder.SelfAttention} with its {@link io.nnsight.lm.decoder.AttentionProbs}, {@link
 * io.nnsight.lm.decoder.GatedMlp}, {@link io.nnsight.lm.decoder.DenseMlp}, {@link
 * io.nnsight.lm.decoder.SparseMoeBlock} (a mixture of experts: {@link io.nnsight.lm.decoder.TopKRouter} and {@link
 * io.nnsight.lm.decoder.Experts}), {@link io.nnsight.lm.decoder.RotaryEmbedding}, {@link
 * io.nnsight.lm.decoder.ScaledEmbedding} and {@link io.nnsight.lm.decoder.Float32RMSNorm}. A {@link
 * io.nnsight.lm.decoder.Placement} says where the tensors live and of which type.
 *
 * <pre>{@code
 * DecoderForCausalLM model = new DecoderForCausalLM(spec, Placement.of(DType.BF16, "cpu"));   // weights to load
 * }</pre>
 */
package io.nnsight.lm.decoder;
