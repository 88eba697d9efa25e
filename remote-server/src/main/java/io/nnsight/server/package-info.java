/** The model server: hosts models and runs the traces that clients ship to it. */
package io.nnsight.server;
