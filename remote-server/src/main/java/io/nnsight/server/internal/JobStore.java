package io.nnsight.server.internal;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The jobs a server knows, by id, until they expire: a job that ended is forgotten, result and status, once the
 * result's time to live has passed, or soon after its result was downloaded (a busy server would otherwise keep
 * every job of the last hour: a thousand jobs a second would be gigabytes of statuses). Lookups are by id and owner,
 * so a job is invisible to every API key but the one that submitted it.
 */
public final class JobStore {
    /** How long a job stays known after its result was downloaded, at most. */
    public static final Duration DOWNLOADED_TTL = Duration.ofSeconds(30);

    private final Map<String, SubmittedJob> jobs = new ConcurrentHashMap<>();
    private final long ttlNanos;
    private final long downloadedTtlNanos;

    /**
     * A store whose ended jobs expire {@code ttlNanos} after they ended, or {@code downloadedTtlNanos} after their
     * result was downloaded.
     */
    public JobStore(long ttlNanos, long downloadedTtlNanos) {
        this.ttlNanos = ttlNanos;
        this.downloadedTtlNanos = downloadedTtlNanos;
    }

    void add(SubmittedJob job) {
        jobs.put(job.id(), job);
    }

    void remove(SubmittedJob job) {
        jobs.remove(job.id(), job);
    }

    /** The job {@code id} if {@code owner} submitted it and it has not expired; else {@code null}. */
    SubmittedJob find(String id, String owner) {
        SubmittedJob job = jobs.get(id);
        if (job == null || !job.owner().equals(owner)) {
            return null;
        }
        if (job.expired(System.nanoTime(), ttlNanos, downloadedTtlNanos)) {
            remove(job);
            return null;
        }
        return job;
    }

    /** Forgets the jobs that expired. */
    public void sweep() {
        long now = System.nanoTime();
        jobs.values().removeIf(job -> job.expired(now, ttlNanos, downloadedTtlNanos));
    }
}
