/**
 * How a language model runs (internal): filling its parameters from a checkpoint ({@code WeightLoader}: memory-mapped
 * or converted, names matched, misfits refused), preparing and left-padding prompts on the model's device ({@code
 * PromptInputs}), and generation: {@code GenerationRunner} runs the model once per step inside one trace, and
 * {@code GeneratorModule} is the traced {@code generator} module whose {@code streamer} sees each step's tokens.
 */
package io.nnsight.lm.internal;
