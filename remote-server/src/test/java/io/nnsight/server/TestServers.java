package io.nnsight.server;

import io.nnsight.NNsight;
import io.nnsight.nn.Linear;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import io.nnsight.remote.internal.http.HttpTransport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/** What the server tests share: a small model, a server with test keys, and payloads of commands. */
final class TestServers {
    static final String ALICE = "alice-key";
    static final String BOB = "bob-key";

    private static NNsight tiny;

    private TestServers() {}

    /** A model for tests that do not run it: a wrapped 2×2 linear layer. */
    static synchronized NNsight tiny() {
        if (tiny == null) {
            tiny = NNsight.wrap(new Linear(2, 2));
        }
        return tiny;
    }

    /** A server on a free loopback port hosting {@link #tiny()} as {@code tiny}, for keys alice and bob. */
    static ModelServer.Builder builder(ScriptExecutor executor) {
        return ModelServer.builder().model("tiny", tiny()).executor(executor).port(0).apiKeys(Set.of(ALICE, BOB));
    }

    /** A command of {@link ScriptExecutor}, compressed as a request payload. */
    static byte[] payload(String command) {
        return Compression.compress(command.getBytes(StandardCharsets.UTF_8));
    }

    static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Polls until the job's status is {@code status}, for at most 10 seconds. */
    static StatusMessage awaitStatus(HttpTransport http, String id, JobStatus status) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        StatusMessage latest;
        while ((latest = http.poll(id)).status() != status) {
            if (System.nanoTime() > end) {
                throw new AssertionError("job " + id + " is " + latest + ", not " + status);
            }
            Thread.sleep(5);
        }
        return latest;
    }

    /**
     * Waits up to 10 s until {@code seen}, the statuses a stream's listener collects (a synchronized list), holds
     * {@code count} of {@code status}.
     */
    static void awaitSeen(List<StatusMessage> seen, JobStatus status, int count) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (seen.stream().filter(message -> message.status() == status).count() < count) {
            if (System.nanoTime() > end) {
                throw new AssertionError("no " + count + " " + status + " statuses within 10 s: " + seen);
            }
            Thread.sleep(5);
        }
    }

    /** {@code shared/<relative>}, found in the nearest ancestor of the working directory that has it. */
    static Path shared(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve(relative);
            if (Files.exists(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared/" + relative + " not found beside the project (expected ../shared)");
    }
}
