/**
 * How a job is shipped (internal): {@link io.nnsight.remote.internal.shipping.Shipment} turns a {@code Job}
 * into a request and reads its result; {@link io.nnsight.remote.internal.shipping.ClassPlan} decides which
 * class files travel (the application's own, a lambda's host class sliced to the methods the lambda reaches,
 * the static fields they read) and reads and slices them with ASM without rewriting any code; {@link
 * io.nnsight.remote.internal.shipping.WriteBack} copies what the body did to its captured values into the
 * caller's.
 */
package io.nnsight.remote.internal.shipping;
