/**
 * nnsight for the JVM: look inside a libtorch model while it runs, read and change any module's inputs and
 * outputs, batch several inputs into one forward pass, and step through repeated calls.
 *
 * <pre>{@code
 * NNsight model = NNsight.wrap(new Mlp(64, 12, 10));
 * Tensor logits = model.trace(x, tr -> {
 *     model.get("layers.5").output().zero_();        // waits for layers.5, edits its live output
 *     return model.get("head").output();             // the rest of the model ran on the edit
 * });
 * }</pre>
 *
 * <ul>
 *   <li>{@link io.nnsight.NNsight}: a wrapped model, the entry point: {@code trace}, {@code session}, {@code
 *       edit}, and {@code on(backend)} to run them elsewhere.
 *   <li>{@link io.nnsight.Envoy}: a module of the model by its path; inside a trace body, {@code output()},
 *       {@code input()}, {@code setOutput(...)}, {@code skip(...)}. {@link io.nnsight.Source} and {@link
 *       io.nnsight.Operation}: the calls inside a module's {@code forward} (with the nnsight agent).
 *   <li>{@link io.nnsight.Tracer}: what a body can do besides reading modules: invokes (several inputs in one
 *       forward pass), {@link io.nnsight.Barrier}s, iterations ({@link io.nnsight.Steps}), stopping early.
 *   <li>{@link io.nnsight.Inputs}, {@link io.nnsight.Batchable}: a module's arguments, and how a wrapper
 *       prepares and batches its inputs. {@link io.nnsight.Tensors}: tensors as Java values.
 *   <li>{@link io.nnsight.Backend} and {@link io.nnsight.Job}: where a trace runs ({@code
 *       io.nnsight.remote.Remote} for a model server).
 *   <li>The errors: {@link io.nnsight.OutOfOrderException}, {@link io.nnsight.NotReachedException}, {@link
 *       io.nnsight.TraceException}.
 * </ul>
 *
 * <p>{@code io.nnsight.spi} holds what modules and wrappers built on this one implement; {@code
 * io.nnsight.internal} is the engine, not an API.
 */
package io.nnsight;
