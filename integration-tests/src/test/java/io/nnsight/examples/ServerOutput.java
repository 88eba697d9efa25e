package io.nnsight.examples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What an {@code nnsight serve} process prints, read on a thread of its own; it tells when the server serves. */
final class ServerOutput {
    private static final Pattern SERVING = Pattern.compile("nnsight: serving (\\S+) on (http://\\S+)");

    private final StringBuffer text = new StringBuffer();
    private final CompletableFuture<String> serving = new CompletableFuture<>();
    private final CompletableFuture<Void> finished = new CompletableFuture<>();
    private final Duration startTimeout;

    /** Reads what {@code process} prints (its error stream redirected to its output); it serves stories260K. */
    ServerOutput(Process process, Duration startTimeout) {
        this.startTimeout = startTimeout;
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    text.append(line).append('\n');
                    Matcher matcher = SERVING.matcher(line);
                    if (matcher.matches()) {
                        if (matcher.group(1).equals("stories260K")) {
                            serving.complete(matcher.group(2));
                        } else {
                            serving.completeExceptionally(new AssertionError("serving " + matcher.group(1)
                                    + ", not stories260K: " + line));
                        }
                    }
                }
            } catch (IOException e) {
                serving.completeExceptionally(e);
            } finally {
                serving.completeExceptionally(new IllegalStateException("the server exited before serving"));
                finished.complete(null);
            }
        }, "nnsight-serve-output");
        reader.setDaemon(true);
        reader.start();
    }

    /** The URL the server printed, once it serves; fails with what it printed if it does not in time. */
    String awaitServing() throws InterruptedException {
        try {
            return serving.get(startTimeout.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError("the server did not print that it serves (" + e.getMessage() + "); it printed:\n"
                    + text, e);
        }
    }

    CompletableFuture<Void> finished() {
        return finished;
    }

    @Override
    public String toString() {
        return text.toString();
    }
}
