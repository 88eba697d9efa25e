/**
 * Internals of the Ray replicas: not API. {@link io.nnsight.server.ray.internal.RayReplicas} on the server's side,
 * {@link io.nnsight.server.ray.internal.ReplicaActor} in the workers, {@link io.nnsight.server.ray.internal.Outcome}
 * the bytes between them.
 */
package io.nnsight.server.ray.internal;
