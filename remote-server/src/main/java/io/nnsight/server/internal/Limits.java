package io.nnsight.server.internal;

import java.time.Duration;

/**
 * The limits a server enforces, as configured on {@code ModelServer.Builder}.
 *
 * @param maxRequestBytes the largest request body, compressed
 * @param maxDecompressedRequestBytes the largest request payload, decompressed
 * @param maxResultBytes the largest result payload, decompressed
 * @param timeLimit how long a job's code may run; the executor stops it then
 * @param stopGrace how much longer the server waits for a job past its time limit before giving up on it
 * @param resultTtl how long a finished job's status and result are kept
 * @param maxQueuedJobs how many jobs may wait for each model
 */
public record Limits(long maxRequestBytes, long maxDecompressedRequestBytes, long maxResultBytes, Duration timeLimit,
        Duration stopGrace, Duration resultTtl, int maxQueuedJobs) {}
