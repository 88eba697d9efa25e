/**
 * The HTTP client of remote execution (internal): {@link io.nnsight.remote.internal.http.HttpTransport} speaks
 * the protocol of {@code docs/remote.md} to a model server and turns every failure into a {@link
 * io.nnsight.remote.RemoteException}; {@link io.nnsight.remote.internal.http.StatusLine} shows a job's progress.
 */
package io.nnsight.remote.internal.http;
