/**
 * How a language model runs (internal): reading {@code config.json} ({@code Configs}) and the weights ({@code
 * WeightLoader}), preparing and left-padding prompts ({@code PromptInputs}), what every decoder shares ({@code
 * Attention}, {@code DecoderInputs}), and generation: {@code GenerationRunner} runs the model once per step
 * inside one trace, and {@code GeneratorModule} is the traced {@code generator} module whose {@code streamer}
 * sees each step's tokens.
 */
package io.nnsight.lm.internal;
