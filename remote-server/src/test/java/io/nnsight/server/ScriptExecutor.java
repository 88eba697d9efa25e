package io.nnsight.server;

import io.nnsight.NNsight;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;

/**
 * A job executor for tests whose request payload is a command, in UTF-8:
 *
 * <ul>
 *   <li>{@code echo TEXT}: returns TEXT;
 *   <li>{@code sleep MILLIS TEXT}: sleeps, then returns TEXT (an interrupt fails the job);
 *   <li>{@code wait TEXT}: waits until {@link #gate} opens, then returns TEXT (an interrupt fails the job);
 *   <li>{@code stuck MILLIS}: sleeps MILLIS whatever happens, interrupts included, then returns {@code late};
 *   <li>{@code elsewhere MILLIS TEXT}: as an executor whose replica runs the job after other calls, reports the job's
 *       end MILLIS and 100 ms from now, sleeps MILLIS, then returns TEXT;
 *   <li>{@code log N}: prints lines {@code line 0} to {@code line N-1}, returns {@code logged};
 *   <li>{@code bytes N}: returns N zero bytes;
 *   <li>{@code random N}: returns {@link #random N random bytes}, which do not compress;
 *   <li>{@code fail MESSAGE}: fails as a job does ({@link JobFailedException});
 *   <li>{@code crash MESSAGE}: throws {@link IllegalStateException}, as a broken executor would.
 * </ul>
 */
final class ScriptExecutor implements JobExecutor {
    /** Opened by the test to let {@code wait} jobs finish. */
    final CountDownLatch gate = new CountDownLatch(1);
    /** The ids of the jobs run, in the order they started. */
    final List<String> started = Collections.synchronizedList(new ArrayList<>());
    /** The time limits the jobs were given. */
    final List<Duration> limits = Collections.synchronizedList(new ArrayList<>());

    @Override
    public byte[] execute(NNsight model, byte[] request, JobContext context) throws JobFailedException {
        started.add(context.id());
        limits.add(context.timeLimit());
        String command = new String(request, StandardCharsets.UTF_8);
        String[] words = command.split(" ", 2);
        String argument = words.length > 1 ? words[1] : "";
        try {
            switch (words[0]) {
                case "echo":
                    return bytes(argument);
                case "sleep":
                    String[] parts = argument.split(" ", 2);
                    Thread.sleep(Long.parseLong(parts[0]));
                    return bytes(parts.length > 1 ? parts[1] : "");
                case "wait":
                    gate.await();
                    return bytes(argument);
                case "elsewhere": {
                    String[] elsewhere = argument.split(" ", 2);
                    long millis = Long.parseLong(elsewhere[0]);
                    long reported = System.nanoTime() + Duration.ofMillis(millis + 100).toNanos();
                    context.progress().deadline(() -> reported);
                    Thread.sleep(millis);
                    return bytes(elsewhere[1]);
                }
                case "stuck":
                    long end = System.nanoTime() + Duration.ofMillis(Long.parseLong(argument)).toNanos();
                    for (long left; (left = end - System.nanoTime()) > 0; ) {
                        try {
                            Thread.sleep(Math.max(1, left / 1_000_000));
                        } catch (InterruptedException ignored) {
                            // as code that does not listen would
                        }
                    }
                    return bytes("late");
                case "log":
                    for (int i = 0; i < Integer.parseInt(argument); i++) {
                        context.log().accept("line " + i);
                    }
                    return bytes("logged");
                case "bytes":
                    return new byte[Integer.parseInt(argument)];
                case "random":
                    return random(Integer.parseInt(argument));
                case "fail":
                    throw new JobFailedException(argument);
                case "crash":
                    throw new IllegalStateException(argument);
                default:
                    throw new JobFailedException("unknown command: " + command);
            }
        } catch (InterruptedException e) {
            throw new JobFailedException("interrupted");
        }
    }

    /** The result of {@code random size}: {@code size} bytes of a generator seeded with {@code size}. */
    static byte[] random(int size) {
        byte[] bytes = new byte[size];
        new Random(size).nextBytes(bytes);
        return bytes;
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
