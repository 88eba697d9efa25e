package io.nnsight.server.internal;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobProgress;
import io.nnsight.server.ModelReplicas;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
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
 * (one for a model in this JVM, which runs one trace at a time), which take the jobs in order. A job is told its
 * position when it is queued, and again when it moves, at most every {@link #POSITION_INTERVAL} ({@link
 * #positionsMoved}): a worker that starts a job does not tell every waiting job at once, which would cost as many
 * events as jobs wait, for every job that starts.
 *
 * <p><b>Batches.</b> When the replicas batch ({@link ModelReplicas#batches()}: a model in this JVM, Ray replicas), a worker takes
 * the oldest job together with younger waiting ones, up to {@link Limits#batchJobs()} jobs whose decompressed
 * requests add up to at most {@link Limits#maxDecompressedRequestBytes()} (see {@link BatchSelection#take} for which
 * jobs, and the fairness bound), and runs them with one {@link ModelReplicas#executeBatch} call ({@link
 * ReplicaCalls}); each member is completed or failed from its own outcome, and counts as running (for {@code /status}
 * and the per-key quota) until the batch returns. Replicas that do not batch get one job at a time.
 *
 * <p><b>Continuous batches.</b> A job whose replicas say it {@linkplain ModelReplicas#joinsContinuously joins
 * continuously} (a generation; asked when it is submitted) is not taken into such a batch when it is the oldest: the
 * worker runs {@link ModelReplicas#executeContinuous} instead, handing over waiting generations at each step boundary
 * and answering each as it leaves ({@link #runContinuously}, through a {@link ContinuousFeed}).
 *
 * <p><b>Time limits.</b> The executor gets the job's time limit and stops the job's code itself; it reports where
 * each job is ({@link JobProgress}: whether its own code runs, where its deadline ends). If a job's code is still
 * running past its own limit plus the grace period, or a batch of k jobs has not returned after k time limits plus
 * the grace period, its {@link Watchdog} ends the job (and every other member of the batch still running) with
 * {@code ERROR}, interrupts its worker, fails the jobs waiting behind it, and marks the model unavailable: the
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
    /**
     * The most often a waiting job is told its new position: the positions of the jobs started within it go out
     * together, as one {@code QUEUED} event per job that moved, from the timer's thread.
     */
    public static final Duration POSITION_INTERVAL = Duration.ofMillis(100);

    private final String key;
    private final ModelReplicas replicas;
    private final Limits limits;
    private final ScheduledExecutorService timer;
    /** Guards the queue's state; its {@link Watchdog}s run under it. */
    final ReentrantLock lock = new ReentrantLock();
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
    /** Runs the jobs the workers take on the replicas, and ends each from its outcome. */
    private final ReplicaCalls calls;
    /** How the batches ran, for {@code /status}; under the lock. */
    private final BatchStatistics batches = new BatchStatistics();
    /** The positions' next publication, once jobs started since the last ({@link #positionsMoved}); under the lock. */
    private ScheduledFuture<?> positionsDue;
    /** When the positions were last published; under the lock. */
    private long positionsPublished = System.nanoTime() - POSITION_INTERVAL.toNanos();

    /** A queue for the model hosted as {@code key}, run by {@code replicas}; {@link #start()} starts its workers. */
    public ModelQueue(String key, ModelReplicas replicas, Limits limits, ScheduledExecutorService timer) {
        this.key = key;
        this.replicas = replicas;
        this.limits = limits;
        this.timer = timer;
        this.calls = new ReplicaCalls(this, replicas, limits);
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
        job.continuous = joinsContinuously(job);
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
            job.position = queue.size() - 1;
            job.publish(StatusMessage.queued(job.id(), job.position));
            changed.signalAll();
            return null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code {"key", "state": "RUNNING" or "UNAVAILABLE", "queued", "running", "batch", "batching"}}, why it is
     * unavailable, and its {@code "replicas"} when they run elsewhere. {@code "batch"} is how the batches ran ({@link
     * BatchStatistics#json()}: the latest, the mean over the last {@value BatchStatistics#RECENT}, the largest, in
     * jobs, forward passes, rows and tokens; totals of jobs run alone, evicted, run again); {@code "batching"} the
     * limits: {@code {"jobs", "rows", "tokens", "maxRequest", "fairness"}} (the most jobs a batch takes, 1 for
     * replicas that run one job at a time; the most rows and tokens of one forward pass; the largest request that
     * joins a batch, in bytes; the fairness bound).
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
            status.add("batch", batches.json());
            JsonObject batching = new JsonObject();
            batching.addProperty("jobs", replicas.batches() ? limits.batchJobs() : 1);
            batching.addProperty("rows", limits.batchRows());
            batching.addProperty("tokens", limits.batchTokens());
            batching.addProperty("maxRequest", limits.batchMaxRequestBytes());
            batching.addProperty("fairness", limits.batchFairness());
            batching.addProperty("epochSteps", limits.batchEpochSteps());
            status.add("batching", batching);
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
            // every running job first, then the workers: a worker interrupted early could end its batch's other members
            running.keySet().forEach(job -> job.fail(reason));
            new HashSet<>(running.values()).forEach(Thread::interrupt);
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
            List<SubmittedJob> batch;
            List<byte[]> requests = null;
            Watchdog watchdog;
            lock.lock();
            try {
                while (queue.isEmpty() && !closed) {
                    changed.awaitUninterruptibly();
                }
                if (closed) {
                    return;
                }
                if (queue.peekFirst().continuous) {
                    batch = null;
                    watchdog = null;
                } else {
                    int most = replicas.batches() ? limits.batchJobs() : 1;
                    batch = BatchSelection.take(queue, most, limits.maxDecompressedRequestBytes(),
                            limits.batchMaxRequestBytes(), limits.batchFairness());
                    requests = start(batch);
                    watchdog = new Watchdog(this, limits, timer, batch);
                }
            } finally {
                lock.unlock();
            }
            if (batch == null) {
                runContinuously();
                continue;
            }
            calls.run(batch, requests, watchdog.progress());
            lock.lock();
            try {
                watchdog.cancel();
                batch.forEach(running::remove);
                returned("The overdue job " + batch.get(0).id());
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Marks jobs just taken out of the queue as running on this worker, and publishes the new positions of those
     * waiting and the jobs' {@code RUNNING}. Under the lock.
     *
     * @return the jobs' requests, compressed
     */
    private List<byte[]> start(List<SubmittedJob> jobs) {
        List<byte[]> requests = new ArrayList<>();
        for (SubmittedJob job : jobs) {
            running.put(job, Thread.currentThread());
            requests.add(job.takeRequest());
        }
        positionsMoved();
        for (SubmittedJob job : jobs) {
            job.publish(StatusMessage.of(job.id(), JobStatus.RUNNING, null));
        }
        return requests;
    }

    /**
     * The worker returned from the executor: an interrupt meant for the jobs just finished is cleared, and if the
     * model was unavailable because of an {@code overdue} job (which is now known to have returned), it takes jobs
     * again.
     */
    private void returned(String overdue) {
        lock.lock();
        try {
            Thread.interrupted(); // an interrupt meant for the jobs just finished
            if (unavailable != null && !closed) {
                unavailable = null;
                LOG.info("{} on model '{}' returned at last: the model takes jobs again", overdue, key);
            }
        } finally {
            lock.unlock();
        }
    }

    // ---- continuous batches of generations ----

    /**
     * Whether {@code job} joins continuous batches: its replicas batch, batches may hold more than one job, and they
     * say so of its request (a generation), told from the header of its request only ({@link JobExecutor#HEADER_BYTES}
     * decompressed, not the whole request, which may be hundreds of megabytes). Called at submission, before the job
     * is queued.
     */
    private boolean joinsContinuously(SubmittedJob job) {
        if (!replicas.batches() || limits.batchJobs() <= 1) {
            return false;
        }
        try {
            return replicas.joinsContinuously(Compression.decompressPrefix(job.request(), JobExecutor.HEADER_BYTES));
        } catch (RuntimeException e) { // a request that does not decompress fails when it runs, alone
            return false;
        }
    }

    /**
     * Runs the generations at the head of the queue as one continuous batch ({@link
     * ModelReplicas#executeContinuous}): at each step boundary the feed hands over the oldest waiting jobs while they
     * join continuously, up to {@link Limits#batchJobs()} running at once (a job of another kind at the head ends
     * the handing over, so it waits for the batch to drain, not for later generations); each job is completed or
     * failed as soon as its outcome arrives, and counts as running until then. Each has a {@link Watchdog} of its own, as
     * a batch of one from when it joined: the executor reports when its code runs and where its deadline ends.
     */
    private void runContinuously() {
        ContinuousFeed feed = new ContinuousFeed(this, calls, limits.batchEpochSteps(),
                new BatchLimits(limits.batchRows(), limits.batchTokens()));
        try {
            replicas.executeContinuous(feed);
        } catch (Throwable e) { // the worker must outlive any failure, errors included
            LOG.error("A continuous batch on model '{}' failed in the server", key, e);
            feed.failUnfinished("the server failed while running the job: " + e);
        }
        feed.failUnfinished("the server failed while running the job: the executor gave it no outcome");
        returned("An overdue job");
    }

    /**
     * A job taken into a continuous batch, its request (compressed) and its watchdog.
     */
    record Started(SubmittedJob job, byte[] request, Watchdog watchdog) {}

    /**
     * Takes the oldest waiting jobs into a continuous batch that runs {@code running} jobs, while they join
     * continuously, up to {@link Limits#batchJobs()} running at once, and starts them, each with a {@link Watchdog}
     * of its own (a batch of one); none while the model takes no jobs.
     */
    List<Started> startContinuing(int running) {
        lock.lock();
        try {
            List<SubmittedJob> taken = new ArrayList<>();
            while (!closed && unavailable == null && retired == null && running + taken.size() < limits.batchJobs()
                    && !queue.isEmpty() && queue.peekFirst().continuous) {
                taken.add(queue.pollFirst());
            }
            if (taken.isEmpty()) {
                return List.of();
            }
            List<byte[]> requests = start(taken);
            List<Started> started = new ArrayList<>();
            for (int i = 0; i < taken.size(); i++) {
                started.add(new Started(taken.get(i), requests.get(i),
                        new Watchdog(this, limits, timer, List.of(taken.get(i)))));
            }
            return started;
        } finally {
            lock.unlock();
        }
    }

    /** A job of a continuous batch ended, answered or not: it runs no more. */
    void ended(SubmittedJob job, Watchdog watchdog) {
        lock.lock();
        try {
            watchdog.cancel();
            running.remove(job);
        } finally {
            lock.unlock();
        }
    }

    /** Counts jobs that ran alone, were evicted or ran again alone outside any batch's record, for {@code /status}. */
    void counted(int solo, int evicted, int reruns) {
        lock.lock();
        try {
            batches.count(solo, evicted, reruns);
        } finally {
            lock.unlock();
        }
    }

    /** Records how a batch ran, for {@code /status}. */
    void record(int jobs, List<BatchReport.Forward> forwards, int solo, int evicted, int reruns) {
        lock.lock();
        try {
            batches.record(jobs, forwards, solo, evicted, reruns);
        } finally {
            lock.unlock();
        }
    }

    /**
     * A worker is stuck in {@code overdue}'s code (its {@link Watchdog} gave up on it): the model takes no jobs until
     * that code returns, and the waiting jobs fail. Under the lock.
     */
    void stuckIn(SubmittedJob overdue) {
        unavailable = "model '" + key + "' is unavailable: job " + overdue.id()
                + " did not stop within its time limit and may still hold the model; the model takes jobs again "
                + "once that job's code returns, or after a restart of the server";
        failQueued(unavailable);
    }

    /** Takes no more jobs on this model, and fails those waiting: the model cannot serve correctly any more. */
    void retire(String reason) {
        lock.lock();
        try {
            retired = reason;
            failQueued(reason);
        } finally {
            lock.unlock();
        }
        LOG.error("Model '{}' takes no more jobs: {}", key, reason);
    }

    /** Whether the server closed the queue; under the lock. */
    boolean closed() {
        return closed;
    }

    /** The worker that runs {@code job}, or {@code null} if it runs on none (any more); under the lock. */
    Thread worker(SubmittedJob job) {
        return running.get(job);
    }

    private void failQueued(String reason) {
        for (SubmittedJob waiting : queue) {
            waiting.fail(reason);
        }
        queue.clear();
    }

    /**
     * The waiting jobs moved up: their new positions go out {@link #POSITION_INTERVAL} after the last publication, or
     * at once on the timer's thread if that was longer ago; under the lock.
     */
    private void positionsMoved() {
        if (positionsDue != null || queue.isEmpty()) {
            return;
        }
        long wait = Math.max(0, positionsPublished + POSITION_INTERVAL.toNanos() - System.nanoTime());
        positionsDue = timer.schedule(this::publishPositions, wait, TimeUnit.NANOSECONDS);
    }

    /** Tells each waiting job whose position changed since it was last told its position now. */
    private void publishPositions() {
        lock.lock();
        try {
            positionsDue = null;
            positionsPublished = System.nanoTime();
            int position = 0;
            for (SubmittedJob waiting : queue) {
                if (waiting.position != position) {
                    waiting.position = position;
                    waiting.publish(StatusMessage.queued(waiting.id(), position));
                }
                position++;
            }
        } finally {
            lock.unlock();
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
