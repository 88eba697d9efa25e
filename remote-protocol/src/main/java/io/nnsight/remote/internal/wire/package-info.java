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
 *   <li>{@link io.nnsight.remote.internal.wire.ResultPayload}: the result's framing.
 * </ul>
 *
 * <p>The client builds requests ({@code io.nnsight.remote.internal.shipping}); the sandbox reads them and makes
 * their lambdas through a {@link io.nnsight.remote.internal.wire.LambdaFactory} of its own.
 */
package io.nnsight.remote.internal.wire;
