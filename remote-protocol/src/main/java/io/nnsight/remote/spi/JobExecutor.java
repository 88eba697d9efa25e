package io.nnsight.remote.spi;

import io.nnsight.NNsight;

/**
 * Runs the request payload of one job on a hosted model: checks and defines the shipped classes, rebuilds
 * the body and its values, runs the trace, and encodes the result. The server calls it on the model's
 * worker thread, one job at a time per model; {@code Remote.local()} calls it in the client's JVM.
 */
public interface JobExecutor {
    /**
     * Runs one job.
     *
     * @param model the hosted model the job names
     * @param request the request payload, decompressed
     * @param context the job's id, time limit and log
     * @return the result payload, not compressed
     * @throws JobFailedException when the job cannot run or its code fails; the message is for the user
     */
    byte[] execute(NNsight model, byte[] request, JobContext context) throws JobFailedException;
}
