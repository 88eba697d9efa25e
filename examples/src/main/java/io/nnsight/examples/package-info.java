/**
 * Runnable recipes from nnsight's and TransformerLens's tutorials, each a {@code main} on a language model
 * folder or hub id (by default {@code ../shared/models/stories260K}, offline): {@link
 * io.nnsight.examples.LogitLens}, {@link io.nnsight.examples.ActivationPatching}, {@link
 * io.nnsight.examples.Ablation}, {@link io.nnsight.examples.Steering} and {@link
 * io.nnsight.examples.AttentionPattern}. {@code examples/run NAME} runs one from the project's root; IntelliJ
 * has a run configuration for each under {@code .run/}.
 */
package io.nnsight.examples;
