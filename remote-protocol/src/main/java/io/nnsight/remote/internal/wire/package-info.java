/**
 * The wire format of a job (internal: may change between minor versions): what a client sends and a server
 * reads, and the result that travels back.
 *
 * <ul>
 *   <li>{@link io.nnsight.remote.internal.wire.Envelope}: the request, a bounded binary layout of kind, model key,
 *       Java version, class files, lambdas and the value graph; every count and length is checked against the
 *       bytes left before anything is allocated ({@link io.nnsight.remote.internal.wire.CountChecks}).
 *   <li>{@link io.nnsight.remote.internal.wire.ValueGraphs}: the Kryo object graphs of a job's values and results.
 *       Tensors travel as dtype, shape and bytes; models, envoys, operations and tokenizers as references to
 *       the job's model; lambdas as a {@link io.nnsight.remote.internal.wire.LambdaSpec} and captured values;
 *       no other native object at all ({@code References}, {@code TensorSerializer}, {@code
 *       LambdaSerializer}). Class names resolve only through the class loader given, which on either side
 *       refuses what a job may not hold.
 *   <li>{@link io.nnsight.remote.internal.wire.Packing} and {@link io.nnsight.remote.internal.wire.ClassPlan}:
 *       values packed with the code they need. ClassPlan decides which class files travel (the application's
 *       own, a lambda's host class sliced to the methods the lambda reaches, the static fields they read) and
 *       reads and slices them with ASM without rewriting any code.
 *   <li>{@link io.nnsight.remote.internal.wire.JobForm}: a job as it travels, with its model's edits, which the
 *       server applies to a copy of the model it hosts.
 *   <li>{@link io.nnsight.remote.internal.wire.ResultPayload}: the result's framing.
 * </ul>
 *
 * <p>The client builds requests ({@code io.nnsight.remote.internal.shipping}); the sandbox reads them and makes
 * their lambdas through a {@link io.nnsight.remote.internal.wire.LambdaFactory} of its own.
 */
package io.nnsight.remote.internal.wire;
