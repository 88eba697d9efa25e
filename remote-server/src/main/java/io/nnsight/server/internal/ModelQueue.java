package io.nnsight.server.internal;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.server.ModelReplicas;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The jobs of one hosted model: a queue, and as many worker threads as the model's replicas can run jobs at once
 * (one for a model in this JVM, which runs one trace at a time), which take the jobs in order. Each change of the
 * queue is published to the jobs in it as a new {@code QUEUED} position.
 *
 * <p><b>Time limits.</b> The executor gets the job's time limit and stops the job's code itself. If {@code
 * execute} has not returned by the limit plus the grace period, the watchdog ends the job with {@code
 * ERROR}, interrupts its worker, fails the jobs waiting behind it, and marks the model unavailable: the
 * worker is still inside the job's code, which may hold the model's trace lock, so the model takes no jobs
 * ({@code 503}) until that code returns. If it ever does, its result is dropped and the model serves again;
 * the rest of the server is unaffected either way. (Replicas elsewhere return by then: see {@link
 * ModelReplicas}.)
 *
 * <p><b>Lost weights.</b> If the executor cannot restore the model's weights after a job changed them
 * ({@link JobFailedException#modelUnusable()}), the model takes no more jobs until the server restarts: it
 * would serve wrong results.
 */
public final class ModelQueue {
    private static final Logger LOG = LoggerFactory.getLogger(ModelQueue.class);
    private static final Gson GSON = new Gson();

    private final String key;
    private final ModelReplicas replicas;
    private final Limits limits;
    private final ScheduledExecutorService timer;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<SubmittedJob> queue = new ArrayDeque<>();
    private final List<Thread> workers = new ArrayList<>();
    /** The running jobs, with the worker that runs each. */
    private final Map<SubmittedJob, Thread> running = new LinkedHashMap<>();
    /** Why the model takes no jobs for now, or {@code null}. */
    private String unavailable;
    /** Why the model takes no jobs until the server restarts, or {@code null}. */
    private String retired;
    private boolean closed;

    /** A queue for the model hosted as {@code key}, run by {@code replicas}; {@link #start()} starts its workers. */
    public ModelQueue(String key, ModelReplicas replicas, Limits limits, ScheduledExecutorService timer) {
        this.key = key;
        this.replicas = replicas;
        this.limits = limits;
        this.timer = timer;
        int capacity = replicas.capacity();
        if (capacity <= 0) {
            throw new IllegalArgumentException("the replicas of model '" + key + "' can run no job: capacity " + capacity);
        }
        for (int i = 0; i < capacity; i++) {
            Thread worker = new Thread(this::work, "nnsight-model-" + key + (capacity == 1 ? "" : "-" + i));
            worker.setDaemon(true);
            workers.add(worker);
        }
    }

    /** The key the model is hosted as. */
    public String key() {
        return key;
    }

    /** Starts the workers, which then run the jobs as they come. */
    public void start() {
        workers.forEach(Thread::start);
    }

    /**
     * Queues a job and publishes its position.
     *
     * @return {@code null}, or why the job was refused (the server is closing, the model is unavailable,
     *     the queue is full, or holds as many jobs of the job's key as one key may have)
     */
    String submit(SubmittedJob job) {
        lock.lock();
        try {
            if (closed) {
                return "the server is shutting down";
            }
            if (retired != null || unavailable != null) {
                return retired != null ? retired : unavailable;
            }
            if (queue.size() >= limits.maxQueuedJobs()) {
                return "model '" + key + "' already has " + queue.size() + " jobs waiting, the most it queues: try again later";
            }
            long own = queue.stream().filter(waiting -> waiting.owner().equals(job.owner())).count()
                    + running.keySet().stream().filter(busy -> busy.owner().equals(job.owner())).count();
            if (own >= limits.maxQueuedJobsPerKey()) {
                return "this API key already has " + own + " jobs waiting for or running on model '" + key + "', the "
                        + "most one key may: wait for one to end";
            }
            queue.add(job);
            job.publish(StatusMessage.queued(job.id(), queue.size() - 1));
            changed.signalAll();
            return null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code {"key", "state": "RUNNING" or "UNAVAILABLE", "queued", "running"}}, why it is unavailable, and its
     * {@code "replicas"} when they run elsewhere.
     */
    JsonObject status() {
        lock.lock();
        try {
            JsonObject status = new JsonObject();
            status.addProperty("key", key);
            String why = retired != null ? retired : unavailable;
            status.addProperty("state", why == null ? "RUNNING" : "UNAVAILABLE");
            status.addProperty("queued", queue.size());
            status.addProperty("running", running.size());
            if (why != null) {
                status.addProperty("description", why);
            }
            List<Map<String, Object>> elsewhere = replicas.status();
            if (!elsewhere.isEmpty()) {
                status.add("replicas", GSON.toJsonTree(elsewhere));
            }
            return status;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes no more jobs, ends the waiting and running ones with {@code ERROR: reason}, and closes the
     * replicas.
     */
    public void close(String reason) {
        lock.lock();
        try {
            closed = true;
            failQueued(reason);
            running.forEach((job, worker) -> {
                job.fail(reason);
                worker.interrupt();
            });
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        replicas.close();
    }

    /** Waits up to {@code timeout} for the workers to end; {@code false} if one is still in a job's code. */
    public boolean awaitWorker(Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        for (Thread worker : workers) {
            worker.join(Math.max(1, (end - System.nanoTime()) / 1_000_000));
            if (worker.isAlive()) {
                return false;
            }
        }
        return true;
    }

    private void work() {
        while (true) {
            SubmittedJob job;
            byte[] request;
            ScheduledFuture<?> watchdog;
            lock.lock();
            try {
                while (queue.isEmpty() && !closed) {
                    changed.awaitUninterruptibly();
                }
                if (closed) {
                    return;
                }
                job = queue.poll();
                running.put(job, Thread.currentThread());
                request = job.takeRequest();
                publishPositions();
                job.publish(StatusMessage.of(job.id(), JobStatus.RUNNING, null));
                SubmittedJob started = job;
                watchdog = timer.schedule(() -> overtime(started),
                        limits.timeLimit().plus(limits.stopGrace()).toNanos(), TimeUnit.NANOSECONDS);
            } finally {
                lock.unlock();
            }
            run(job, request);
            lock.lock();
            try {
                watchdog.cancel(false);
                running.remove(job);
                Thread.interrupted(); // an interrupt meant for the job just finished
                if (unavailable != null && !closed) {
                    unavailable = null;
                    LOG.info("The overdue job {} on model '{}' returned at last: the model takes jobs again", job.id(), key);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    private void run(SubmittedJob job, byte[] compressedRequest) {
        byte[] result;
        try {
            byte[] request = Compression.decompress(compressedRequest, limits.maxDecompressedRequestBytes());
            result = replicas.execute(request, new JobContext(job.id(), limits.timeLimit(), job::log));
            if (result == null) {
                throw new IllegalStateException("the executor returned no result");
            }
        } catch (JobFailedException e) {
            if (e.modelUnusable()) { // before the job's client hears of it, so its next job finds the model retired
                retire(e.getMessage());
            }
            job.fail(e.getMessage() == null ? "the job failed (" + e + ")" : e.getMessage());
            return;
        } catch (Throwable e) { // the worker must outlive any failure, errors included
            if (!job.terminal()) {
                LOG.error("Job {} on model '{}' failed in the server", job.id(), key, e);
            }
            job.fail("the server failed while running the job: " + e);
            return;
        }
        if (result.length > limits.maxResultBytes()) {
            job.fail("result too large: " + result.length + " bytes, limit " + limits.maxResultBytes());
            return;
        }
        if (!job.complete(Compression.compress(result), result.length)) {
            LOG.debug("Job {} on model '{}' returned after it had ended; its result is dropped", job.id(), key);
        }
    }

    private void overtime(SubmittedJob job) {
        lock.lock();
        try {
            Thread worker = running.get(job);
            if (worker == null || closed || job.terminal()) {
                return;
            }
            unavailable = "model '" + key + "' is unavailable: job " + job.id()
                    + " did not stop within its time limit and may still hold the model; the model takes jobs again "
                    + "once that job's code returns, or after a restart of the server";
            failQueued(unavailable); // before the job's client hears of it, so that it finds the rest as they will be
            job.fail("the job did not stop within its time limit of " + describe(limits.timeLimit()) + " (and "
                    + describe(limits.stopGrace()) + " of grace): the server gave up on it");
            worker.interrupt();
        } finally {
            lock.unlock();
        }
        LOG.warn("Job {} on model '{}' did not stop within {} plus {} of grace: the model takes no jobs until it returns",
                job.id(), key, describe(limits.timeLimit()), describe(limits.stopGrace()));
    }

    /** Takes no more jobs on this model, and fails those waiting: the model cannot serve correctly any more. */
    private void retire(String reason) {
        lock.lock();
        try {
            retired = reason;
            failQueued(reason);
        } finally {
            lock.unlock();
        }
        LOG.error("Model '{}' takes no more jobs: {}", key, reason);
    }

    private void failQueued(String reason) {
        for (SubmittedJob waiting : queue) {
            waiting.fail(reason);
        }
        queue.clear();
    }

    private void publishPositions() {
        int position = 0;
        for (SubmittedJob waiting : queue) {
            waiting.publish(StatusMessage.queued(waiting.id(), position++));
        }
    }

    /** {@code 5 min}, {@code 10 s}, {@code 250 ms}. */
    static String describe(Duration duration) {
        long millis = duration.toMillis();
        if (millis % 60_000 == 0 && millis > 0) {
            return millis / 60_000 + " min";
        }
        if (millis % 1000 == 0 && millis > 0) {
            return millis / 1000 + " s";
        }
        return millis + " ms";
    }
}
