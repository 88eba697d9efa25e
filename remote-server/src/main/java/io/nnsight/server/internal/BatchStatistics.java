package io.nnsight.server.internal;

import com.google.gson.JsonObject;
import io.nnsight.remote.spi.BatchReport;
import java.util.List;

/**
 * How a model's batches ran, for {@code /status}: the latest batch (one call of the executor: its jobs, its shared
 * forward passes, and their rows and tokens, summed over the passes; or one step of a continuous batch, a pass of the
 * generations it served), the mean over the latest {@value
 * #RECENT} batches, the largest of each, and totals of the jobs that ran alone, were evicted from a pass or ran
 * again alone. Not thread-safe: the queue calls it under its lock.
 */
final class BatchStatistics {
    /** How many of the latest batches the means cover. */
    static final int RECENT = 100;

    /** One batch: jobs, forward passes, rows, tokens. */
    private record Sizes(long jobs, long forwards, long rows, long tokens) {
        Sizes plus(Sizes other, int sign) {
            return new Sizes(jobs + sign * other.jobs, forwards + sign * other.forwards, rows + sign * other.rows,
                    tokens + sign * other.tokens);
        }

        Sizes max(Sizes other) {
            return new Sizes(Math.max(jobs, other.jobs), Math.max(forwards, other.forwards), Math.max(rows, other.rows),
                    Math.max(tokens, other.tokens));
        }

        JsonObject json() {
            JsonObject json = new JsonObject();
            json.addProperty("jobs", jobs);
            json.addProperty("forwards", forwards);
            json.addProperty("rows", rows);
            json.addProperty("tokens", tokens);
            return json;
        }
    }

    private static final Sizes NONE = new Sizes(0, 0, 0, 0);

    private final Sizes[] recent = new Sizes[RECENT];
    private int next;
    private int count;
    private Sizes sum = NONE;
    private Sizes last = NONE;
    private Sizes largest = NONE;
    private long solo;
    private long evicted;
    private long reruns;

    /**
     * Notes a batch of {@code jobs} jobs that ran in {@code forwards} (and alone, evicted, again alone: see {@link
     * BatchReport}).
     */
    void record(int jobs, List<BatchReport.Forward> forwards, int solo, int evicted, int reruns) {
        long rows = 0;
        long tokens = 0;
        for (BatchReport.Forward forward : forwards) {
            rows += forward.rows();
            tokens += forward.tokens();
        }
        Sizes sizes = new Sizes(jobs, forwards.size(), rows, tokens);
        if (count == RECENT) {
            sum = sum.plus(recent[next], -1);
        } else {
            count++;
        }
        recent[next] = sizes;
        sum = sum.plus(sizes, 1);
        next = (next + 1) % RECENT;
        last = sizes;
        largest = largest.max(sizes);
        count(solo, evicted, reruns);
    }

    /** Counts jobs that ran alone, were evicted or ran again alone (of a continuous batch), apart from any batch. */
    void count(int solo, int evicted, int reruns) {
        this.solo += solo;
        this.evicted += evicted;
        this.reruns += reruns;
    }

    /**
     * {@code {"last": SIZES, "mean": SIZES, "max": SIZES, "solo", "evicted", "reruns"}}, where {@code SIZES} is
     * {@code {"jobs", "forwards", "rows", "tokens"}}; zeros before the first batch.
     */
    JsonObject json() {
        JsonObject json = new JsonObject();
        json.add("last", last.json());
        JsonObject mean = new JsonObject();
        mean.addProperty("jobs", count == 0 ? 0.0 : (double) sum.jobs / count);
        mean.addProperty("forwards", count == 0 ? 0.0 : (double) sum.forwards / count);
        mean.addProperty("rows", count == 0 ? 0.0 : (double) sum.rows / count);
        mean.addProperty("tokens", count == 0 ? 0.0 : (double) sum.tokens / count);
        json.add("mean", mean);
        json.add("max", largest.json());
        json.addProperty("solo", solo);
        json.addProperty("evicted", evicted);
        json.addProperty("reruns", reruns);
        return json;
    }
}
