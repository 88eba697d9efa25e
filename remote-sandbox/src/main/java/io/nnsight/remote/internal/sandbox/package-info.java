/**
 * The sandbox for intervention code shipped by strangers: a model server checks their class files against an
 * allow-list before it defines them, rewrites them, and runs them in a class loader of their own.
 *
 * <ul>
 *   <li>{@link io.nnsight.remote.internal.sandbox.ShippedCode}: the code of a job or of a file of edits, loaded
 *       with all of what follows, and its values read.
 *   <li>{@link io.nnsight.remote.internal.sandbox.Sandbox}: checks and rewrites shipped class files; refusals
 *       come as a {@link io.nnsight.remote.internal.sandbox.SandboxException} that names every refused
 *       reference, where it is, and why.
 *   <li>{@link io.nnsight.remote.internal.sandbox.JobClassLoader}: defines a job's prepared classes and hands
 *       out only the server classes the allow-list accepts.
 *   <li>{@link io.nnsight.remote.internal.sandbox.Deadline}, {@link io.nnsight.remote.internal.sandbox.JobOutput}
 *       and {@link io.nnsight.remote.internal.sandbox.AddressFree}: what rewritten shipped code calls: the job's
 *       time limit, which it checks at every method and loop iteration, where its printing goes, and text and
 *       hash codes without native addresses.
 *   <li>{@link io.nnsight.remote.internal.sandbox.LambdaFactories}: binds the request's lambdas, only to methods
 *       their shipped classes declare; {@link io.nnsight.remote.internal.sandbox.WeightGuard}: restores the hosted
 *       weights after each job.
 * </ul>
 *
 * <p>The allow-list is one table, {@code StandardPolicy} (in {@code nnsight-remote-protocol}, since a client
 * reads results by it too): the nnsight API, tensors and torch's functions,
 * {@code java.lang}'s basics, collections, streams, math and text formatting, and printing. Everything else
 * is refused: files, the network, processes, reflection, class loaders, threads, the server's settings,
 * raw native memory, TorchScript, devices, and the hosted model's modules beyond calling {@code forward}.
 *
 * <p>What this is not: a defense against a job that uses allowed things heavily. A tensor of a billion
 * elements, a huge string, or one long call into libtorch are bounded by the server's memory and by its own
 * last resort, not by the deadline checks, which run between the shipped code's own instructions.
 */
package io.nnsight.remote.internal.sandbox;
