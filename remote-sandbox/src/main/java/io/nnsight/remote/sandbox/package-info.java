/**
 * The executor that runs code shipped by strangers: {@link io.nnsight.remote.sandbox.SandboxedExecutor}. A model
 * server runs every job with it (the default of {@code ModelServer.builder()}), and {@code Remote.local()} runs a
 * job through it in the caller's JVM to show what a server would say before sending it.
 *
 * <p>For one request it checks and rewrites the shipped classes, defines them in a class loader of their own,
 * reads the values, runs the trace, generation or session on the hosted model within the job's time limit with
 * its output captured, writes the result, frees the job's native memory, and restores any weight the job
 * changed. {@code docs/security.md} describes each layer.
 *
 * <p>{@link io.nnsight.remote.sandbox.SandboxedEditFiles} writes and reads the files of {@code
 * NNsight.exportEdits} and {@code importEdits} with the same format and checks.
 */
package io.nnsight.remote.sandbox;
