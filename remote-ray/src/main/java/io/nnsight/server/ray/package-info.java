/**
 * Replicas of hosted models as Ray actors on the nodes of a Ray cluster, behind a model server's front end: {@link
 * io.nnsight.server.ray.RayHost}, the {@link io.nnsight.server.ReplicaHost} that {@code nnsight serve --ray} uses.
 */
package io.nnsight.server.ray;
