package io.nnsight.hub;

/**
 * Follows the transfer of files from the hub, to show progress.
 *
 * <p>A {@link HubClient} calls {@link #onProgress} from the downloading thread: first when the transfer starts
 * (with the bytes that an earlier, interrupted transfer left, or 0), then as bytes arrive, and last with
 * {@code bytesDownloaded == totalBytes} when the file is complete. Files served from the cache make no calls.
 * Calls for one file never overlap, but threads that download different files call one listener concurrently.
 *
 * <p>A listener that records the largest file:
 *
 * <pre>{@code
 * AtomicLong largest = new AtomicLong();
 * HubClient client = HubClient.fromEnvironment()
 *         .withListener((file, done, total) -> largest.accumulateAndGet(total, Math::max));
 * }</pre>
 */
@FunctionalInterface
public interface DownloadListener {
    /**
     * Reports how far the download of one file has come. Keep it quick: it runs between reads of the network.
     *
     * @param filename the path of the file inside its repository, like {@code model.safetensors}
     * @param bytesDownloaded the bytes of the file received so far, including those of an interrupted earlier
     *     transfer that this one resumes
     * @param totalBytes the size of the file, or -1 while the server has not said; the last call of a complete
     *     file always passes the size
     */
    void onProgress(String filename, long bytesDownloaded, long totalBytes);

    /** A listener that ignores all progress. */
    static DownloadListener none() {
        return (filename, bytesDownloaded, totalBytes) -> { };
    }

    /**
     * The default listener: one progress bar line per file, redrawn in place on standard error, like
     * <pre>{@code model.safetensors  [############------------------]  40%  210.5 MiB / 522.7 MiB}</pre>
     *
     * <p>When the program has no interactive terminal (its output goes to a file, a pipe or a CI log) the
     * returned listener prints nothing, so that logs are not filled with redrawn lines.
     */
    static DownloadListener consoleProgressBar() {
        return ConsoleProgressBar.isTerminal() ? new ConsoleProgressBar(System.err) : none();
    }
}
