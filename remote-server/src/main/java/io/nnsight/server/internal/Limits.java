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
 * @param maxQueuedJobsPerKey how many jobs of one API key may wait for or run on each model
 * @param minUploadRate the slowest a request body may arrive, in bytes per second, after {@link
 *     #UPLOAD_GRACE}; no byte in {@code UPLOAD_GRACE} ends the upload too
 * @param batchJobs how many jobs of a model in this JVM one batch (one call of the executor) takes at most; 1 runs
 *     each alone
 * @param batchRows how many batch rows one forward pass of a batch holds at most
 * @param batchTokens how many tokens (rows times their padded length) one forward pass of a batch holds at most
 * @param batchMaxRequestBytes the largest decompressed request that joins a batch; larger ones run alone
 * @param batchFairness how many batches of younger jobs one waiting job may be passed over by
 * @param batchEpochSteps how many forward passes a continuous batch of generations admits jobs for before it lets
 *     them finish and frees its memory
 */
public record Limits(long maxRequestBytes, long maxDecompressedRequestBytes, long maxResultBytes, Duration timeLimit,
        Duration stopGrace, Duration resultTtl, int maxQueuedJobs, int maxQueuedJobsPerKey, long minUploadRate,
        int batchJobs, int batchRows, long batchTokens, long batchMaxRequestBytes, int batchFairness,
        int batchEpochSteps) {
    /** How long an upload may take before {@link #minUploadRate} applies, and the longest it may stall. */
    public static final Duration UPLOAD_GRACE = Duration.ofSeconds(5);
}
