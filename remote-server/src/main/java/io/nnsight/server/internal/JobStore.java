package io.nnsight.server.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The jobs a server knows, by id, until they expire: a job that ended is forgotten, result and status,
 * once the result's time to live has passed. Lookups are by id and owner, so a job is invisible to every
 * API key but the one that submitted it.
 */
public final class JobStore {
    private final Map<String, SubmittedJob> jobs = new ConcurrentHashMap<>();
    private final long ttlNanos;

    /** A store whose ended jobs expire {@code ttlNanos} after they ended. */
    public JobStore(long ttlNanos) {
        this.ttlNanos = ttlNanos;
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
        if (job.expired(System.nanoTime(), ttlNanos)) {
            remove(job);
            return null;
        }
        return job;
    }

    /** Forgets the jobs that expired. */
    public void sweep() {
        long now = System.nanoTime();
        jobs.values().removeIf(job -> job.expired(now, ttlNanos));
    }
}
