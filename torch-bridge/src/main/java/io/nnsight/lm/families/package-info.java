/**
 * The architectures {@link io.nnsight.lm.LanguageModel} loads, one short declarative {@link
 * io.nnsight.lm.families.Family} each, by transformers' {@code model_type}: {@link io.nnsight.lm.families.Llama},
 * {@link io.nnsight.lm.families.Mistral}, {@link io.nnsight.lm.families.Mixtral}, {@link
 * io.nnsight.lm.families.Qwen2}, {@link io.nnsight.lm.families.Qwen2Moe}, {@link io.nnsight.lm.families.Qwen3},
 * {@link io.nnsight.lm.families.Qwen3Moe},
 * {@link io.nnsight.lm.families.Gemma2}, {@link io.nnsight.lm.families.Gemma3}, {@link
 * io.nnsight.lm.families.Gemma3ImageText}, {@link io.nnsight.lm.families.Phi3}, {@link
 * io.nnsight.lm.families.Olmo2}, {@link io.nnsight.lm.families.Olmo3}, {@link io.nnsight.lm.families.Olmoe}, {@link
 * io.nnsight.lm.families.GptOss}, {@link io.nnsight.lm.families.GptNeoX} (Pythia) and {@link io.nnsight.lm.families.Gpt2}. A family reads its {@code
 * config.json} ({@link io.nnsight.lm.families.HfConfig}) into a {@link io.nnsight.lm.decoder.DecoderSpec}, which
 * the shared blocks of {@code io.nnsight.lm.decoder} build, and declares its main modules' paths ({@link
 * io.nnsight.lm.ModulePaths}) and its checkpoints' weight names.
 *
 * <pre>{@code
 * Family family = Families.of(HfConfig.read(folder.resolve("config.json")));
 * DecoderSpec spec = family.decoder(config);
 * }</pre>
 */
package io.nnsight.lm.families;
