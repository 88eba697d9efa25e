/**
 * The wire protocol of remote execution (internal: may change between minor versions): paths, headers,
 * versions, the status messages of jobs and the compression of payloads. See {@code docs/remote.md}.
 */
package io.nnsight.remote.internal.protocol;
