/**
 * The model server: hosts models and runs the traces that clients ship to it. Start one with {@link
 * io.nnsight.server.ModelServer#builder()}; the protocol is {@code docs/remote.md}.
 */
package io.nnsight.server;
