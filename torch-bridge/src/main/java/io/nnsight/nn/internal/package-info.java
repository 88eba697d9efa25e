/**
 * Internals of the building blocks: not API, may change in any release. {@link io.nnsight.nn.internal.MetaKernels}
 * computes on the meta device the operations libtorch's C++ build has no meta kernel for.
 */
package io.nnsight.nn.internal;
