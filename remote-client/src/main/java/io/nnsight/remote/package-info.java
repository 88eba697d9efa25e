/**
 * Remote execution: run traces on a model server that hosts the model, with the intervention code shipped
 * by value.
 */
package io.nnsight.remote;
