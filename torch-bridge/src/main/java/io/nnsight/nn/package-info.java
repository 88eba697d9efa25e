/**
 * libtorch modules that traces can see: {@link io.nnsight.nn.HookedModule}, the base class of traceable Java
 * modules (its calls pass through a hook point, idle outside traces), and the building blocks made with it:
 * {@link io.nnsight.nn.Linear}, {@link io.nnsight.nn.Conv1D}, {@link io.nnsight.nn.Embedding}, {@link
 * io.nnsight.nn.LayerNorm}, {@link io.nnsight.nn.RMSNorm}, {@link io.nnsight.nn.Dropout}, the activations, and
 * the containers {@link io.nnsight.nn.Sequential} and {@link io.nnsight.nn.ModuleList}; {@link
 * io.nnsight.nn.Mlp} is nnsight's test model.
 *
 * <pre>{@code
 * final class Block extends HookedModule {
 *     private final Linear up = register("up", new Linear(64, 256));
 *     private final Linear down = register("down", new Linear(256, 64));
 *     public Tensor forward(Tensor x) {
 *         return hooked(x, in -> down.forward(torch.relu(up.forward(in))));
 *     }
 * }
 * }</pre>
 *
 * <p>Plain Bytedeco modules ({@code LinearImpl}...) become traceable with the nnsight agent instead.
 */
package io.nnsight.nn;
