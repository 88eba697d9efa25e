/**
 * Language models with Hugging Face's module names and weights: {@link io.nnsight.lm.LanguageModel} (load a
 * model folder or a hub id, trace prompts, generate), its {@link io.nnsight.lm.Tokenizer}, the options and
 * results of generation ({@link io.nnsight.lm.Generation}, {@link io.nnsight.lm.Generated}), the {@link
 * io.nnsight.lm.KvCache}, and {@link io.nnsight.lm.GenerateJob}, a generation run by a backend.
 *
 * <pre>{@code
 * LanguageModel lm = LanguageModel.load("path/to/stories260K");
 * Generated out = lm.generate("Once upon a time", Generation.maxNewTokens(20));
 * }</pre>
 *
 * <p>The architectures are the families of {@code io.nnsight.lm.families}, built from the blocks of {@code
 * io.nnsight.lm.decoder}; {@link io.nnsight.lm.ModulePaths} says where each keeps its main modules.
 */
package io.nnsight.lm;
