package io.nnsight.remote.spi;

/**
 * How large one forward pass of a batch may be ({@link JobExecutor#executeBatch}): an executor that runs several
 * jobs in one forward pass puts at most {@code rows} batch rows and {@code tokens} tokens into each, and splits a
 * larger group of compatible jobs into several passes. A job larger than either bound on its own runs in a pass of
 * its own. A continuous batch's jobs join within them as {@link JobFeed#limits()} says.
 *
 * <pre>{@code
 * BatchReport report = executor.executeBatch(model, requests, contexts, new BatchLimits(16, 4096));
 * }</pre>
 *
 * @param rows the most batch rows one forward pass holds, over all its jobs (a job of {@code tr.invoke}s may add
 *     several)
 * @param tokens the most tokens one forward pass holds: the sum over its rows of their padded length
 */
public record BatchLimits(int rows, long tokens) {
    /** What {@code nnsight serve} uses unless told otherwise: 16 rows, 4096 tokens. */
    public static final BatchLimits DEFAULT = new BatchLimits(16, 4096);

    /** Checks that both bounds are positive. */
    public BatchLimits {
        if (rows <= 0 || tokens <= 0) {
            throw new IllegalArgumentException("a forward pass must hold at least one row and one token, got " + rows
                    + " rows and " + tokens + " tokens");
        }
    }
}
