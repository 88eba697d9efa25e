package io.nnsight.server.internal;

import io.nnsight.NNsight;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.server.ModelReplicas;
import java.util.List;
import java.util.Map;

/**
 * A model in the server's own JVM: one replica, which runs one trace at a time with the server's executor; that
 * trace may be a batch of jobs ({@link JobExecutor#executeBatch}).
 */
public final class LocalModel implements ModelReplicas {
    private final NNsight model;
    private final JobExecutor executor;

    public LocalModel(NNsight model, JobExecutor executor) {
        this.model = model;
        this.executor = executor;
    }

    @Override
    public int capacity() {
        return 1; // a model runs one trace at a time
    }

    @Override
    public byte[] execute(byte[] request, JobContext context) throws JobFailedException {
        return executor.execute(model, request, context);
    }

    @Override
    public BatchReport executeBatch(List<byte[]> requests, List<JobContext> contexts, BatchLimits limits) {
        return executor.executeBatch(model, requests, contexts, limits);
    }

    @Override
    public boolean joinsContinuously(byte[] header) {
        return executor.joinsContinuously(model, header);
    }

    @Override
    public void executeContinuous(JobFeed feed) {
        executor.executeContinuous(model, feed);
    }

    @Override
    public boolean batches() {
        return true;
    }

    @Override
    public List<Map<String, Object>> status() {
        return List.of();
    }

    @Override
    public void close() {
        // the model belongs to whoever gave it to the server
    }
}
