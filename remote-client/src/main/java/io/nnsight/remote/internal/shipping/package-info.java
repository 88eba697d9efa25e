/**
 * How a job is shipped (internal): {@link io.nnsight.remote.internal.shipping.Shipment} turns a {@code Job}
 * and the edits of its model into a request ({@link io.nnsight.remote.internal.wire.Packing}) and reads its
 * result; {@link io.nnsight.remote.internal.shipping.WriteBack} copies what the body did to its captured values
 * into the caller's.
 */
package io.nnsight.remote.internal.shipping;
