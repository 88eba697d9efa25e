/**
 * The tracing engine (internal: no API, may change in any release). The path of one trace:
 *
 * <ol>
 *   <li>{@code NNsight.trace} makes a {@link io.nnsight.internal.TraceRun}, which {@link
 *       io.nnsight.internal.Running} records as the running trace of the wrapper's {@link
 *       io.nnsight.internal.TraceTarget} and of the calling thread.
 *   <li>The run prepares each invoke's input ({@code Batchable}), batches them, and makes an {@link
 *       io.nnsight.internal.Interleaver} with one {@link io.nnsight.internal.Mediator} per invoke, whose body
 *       runs as a coroutine of an {@code engine}.
 *   <li>The model runs; each traceable module's hook asks {@link io.nnsight.internal.Running} for its wrapper's
 *       trace and hands the call to the interleaver, which offers the module's inputs and output to the bodies
 *       waiting for them, each narrowed to its invoke's rows ({@link io.nnsight.internal.InvokeRows}).
 *   <li>A body's {@code envoy.output()} finds the trace the same way, suspends until the value arrives, and
 *       resumes with it; what it sets is what the model continues with.
 *   <li>At the end, {@link io.nnsight.internal.TraceMemory} frees the native memory the trace made, except its
 *       result and saved values; {@link io.nnsight.internal.StackTraces} cleans errors for the caller.
 * </ol>
 *
 * <p>This package may use only the leaf types of {@code io.nnsight} ({@code Inputs}, {@code Batchable}, {@code
 * Steps}, {@code Tensors} and the exceptions), never the wrapper and envoy classes that use it.
 */
package io.nnsight.internal;
