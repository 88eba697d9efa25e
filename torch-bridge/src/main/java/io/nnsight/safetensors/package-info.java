/**
 * Reading safetensors checkpoints: {@link io.nnsight.safetensors.SafeTensors} opens one file (its header,
 * names, dtypes and shapes, and each tensor's bytes), {@link io.nnsight.safetensors.Weights} a
 * model folder's weights in one file or sharded by {@code model.safetensors.index.json}. A missing name is an
 * error that lists the closest names.
 *
 * <pre>{@code
 * try (SafeTensors file = SafeTensors.open(Path.of("model.safetensors"))) {
 *     file.copyInto("lm_head.weight", head.weight());
 * }
 * }</pre>
 */
package io.nnsight.safetensors;
