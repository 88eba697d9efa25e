package io.nnsight.server.internal;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.server.ModelReplicas;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
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
 * (one for a model in this JVM, which runs one trace at a time), which take the jobs in order. Each change of the
 * queue is published to the jobs in it as a new {@code QUEUED} position.
 *
 * <p><b>Batches.</b> When the replicas batch ({@link ModelReplicas#batches()}: a model in this JVM), a worker takes
 * the oldest job together with younger waiting ones, up to {@link Limits#batchJobs()} jobs whose decompressed
 * requests add up to at most {@link Limits#maxDecompressedRequestBytes()}, and runs them with one {@link
 * ModelReplicas#executeBatch} call (see {@link #takeBatch} for which jobs, and the fairness bound); each member is
 * completed or failed from its own outcome, and counts as running (for {@code /status} and the per-key quota)
 * until the batch returns. Replicas elsewhere get one job at a time.
 *
 * <p><b>Time limits.</b> The executor gets the job's time limit and stops the job's code itself. If {@code
 * execute} has not returned by the limit plus the grace period (for a batch of k jobs: k times the limit, plus
 * the grace period), the watchdog ends the job (every member of the batch still running) with {@code
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
    /** How the batches ran, for {@code /status}; under the lock. */
    private final BatchStatistics batches = new BatchStatistics();

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
            List<byte[]> requests = new ArrayList<>();
            ScheduledFuture<?> watchdog;
            lock.lock();
            try {
                while (queue.isEmpty() && !closed) {
                    changed.awaitUninterruptibly();
                }
                if (closed) {
                    return;
                }
                int most = replicas.batches() ? limits.batchJobs() : 1;
                batch = takeBatch(queue, most, limits.maxDecompressedRequestBytes(), limits.batchMaxRequestBytes(),
                        limits.batchFairness());
                for (SubmittedJob job : batch) {
                    running.put(job, Thread.currentThread());
                    requests.add(job.takeRequest());
                }
                publishPositions();
                for (SubmittedJob job : batch) {
                    job.publish(StatusMessage.of(job.id(), JobStatus.RUNNING, null));
                }
                List<SubmittedJob> started = batch;
                watchdog = timer.schedule(() -> overtime(started), watchdogNanos(batch.size()), TimeUnit.NANOSECONDS);
            } finally {
                lock.unlock();
            }
            run(batch, requests);
            lock.lock();
            try {
                watchdog.cancel(false);
                batch.forEach(running::remove);
                Thread.interrupted(); // an interrupt meant for the jobs just finished
                if (unavailable != null && !closed) {
                    unavailable = null;
                    LOG.info("The overdue job {} on model '{}' returned at last: the model takes jobs again",
                            batch.get(0).id(), key);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * How long the watchdog waits for a batch of {@code members} jobs: each member's time limit, one after the other,
     * plus one grace period. A member is charged for its own code only, so a batch whose members all keep to their
     * limits returns well within it; for one job it is the job's time limit plus the grace period.
     */
    private long watchdogNanos(int members) {
        long limit = limits.timeLimit().toNanos();
        long most = (Long.MAX_VALUE - limits.stopGrace().toNanos()) / members;
        return Math.min(limit, most) * members + limits.stopGrace().toNanos();
    }

    /**
     * Takes the jobs that run together next out of {@code queue} (which must not be empty): the oldest job, then
     * younger ones in order while the batch has fewer than {@code maxJobs} jobs. A job whose request is larger than
     * {@code maxRequest} runs alone: as the oldest, it is the whole batch; otherwise it is passed over, as is a job
     * whose request would take the batch's decompressed requests past {@code maxBytes}. A job passed over counts as
     * {@link SubmittedJob#overtaken overtaken} if a younger job is taken; but a job already overtaken {@code
     * fairness} times is never passed over: the batch ends before it. So no job waits behind more than {@code
     * fairness} batches of younger jobs.
     */
    static List<SubmittedJob> takeBatch(ArrayDeque<SubmittedJob> queue, int maxJobs, long maxBytes, long maxRequest,
            int fairness) {
        List<SubmittedJob> batch = new ArrayList<>();
        List<SubmittedJob> passed = new ArrayList<>();
        List<SubmittedJob> passedBeforeLast = List.of();
        SubmittedJob head = queue.peekFirst();
        long bytes = 0;
        for (SubmittedJob job : queue) {
            if (batch.size() >= maxJobs || !batch.isEmpty() && head.requestBytes() > maxRequest) {
                break;
            }
            if (job != head && (bytes + job.requestBytes() > maxBytes || job.requestBytes() > maxRequest)) {
                if (job.overtaken >= fairness) {
                    break;
                }
                passed.add(job);
                continue;
            }
            batch.add(job);
            bytes += job.requestBytes();
            passedBeforeLast = List.copyOf(passed);
        }
        for (SubmittedJob job : passedBeforeLast) {
            job.overtaken++;
        }
        queue.removeAll(batch);
        return batch;
    }

    private void run(List<SubmittedJob> batch, List<byte[]> compressedRequests) {
        List<SubmittedJob> members = new ArrayList<>();
        List<byte[]> requests = new ArrayList<>();
        List<JobContext> contexts = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            SubmittedJob job = batch.get(i);
            try {
                requests.add(Compression.decompress(compressedRequests.get(i), limits.maxDecompressedRequestBytes()));
            } catch (Throwable e) { // checked at submission: a failure here is the server's
                LOG.error("Job {} on model '{}' failed in the server", job.id(), key, e);
                job.fail("the server failed while running the job: " + e);
                continue;
            }
            members.add(job);
            contexts.add(new JobContext(job.id(), limits.timeLimit(), job::log));
        }
        if (members.isEmpty()) {
            return;
        }
        List<JobOutcome> outcomes;
        BatchReport report;
        try {
            if (members.size() == 1) {
                JobOutcome outcome;
                try {
                    byte[] result = replicas.execute(requests.get(0), contexts.get(0));
                    outcome = result == null ? null : JobOutcome.succeeded(result);
                } catch (JobFailedException e) {
                    outcome = JobOutcome.failed(e);
                }
                outcomes = Collections.singletonList(outcome);
                report = null;
            } else {
                report = replicas.executeBatch(requests, contexts,
                        new BatchLimits(limits.batchRows(), limits.batchTokens()));
                outcomes = report == null ? null : report.outcomes();
                if (outcomes == null || outcomes.size() != members.size()) {
                    throw new IllegalStateException("the executor returned " + (outcomes == null ? "no" : outcomes.size())
                            + " outcomes for a batch of " + members.size() + " jobs");
                }
            }
        } catch (Throwable e) { // the worker must outlive any failure, errors included
            for (SubmittedJob job : members) {
                if (!job.terminal()) {
                    LOG.error("Job {} on model '{}' failed in the server", job.id(), key, e);
                }
                job.fail("the server failed while running the job: " + e);
            }
            return;
        }
        lock.lock();
        try {
            if (report == null) {
                batches.record(batch.size(), List.of(), 1, 0, 0);
            } else {
                batches.record(batch.size(), report.forwards(), report.solo(), report.evicted(), report.reruns());
            }
        } finally {
            lock.unlock();
        }
        for (int i = 0; i < members.size(); i++) {
            finish(members.get(i), outcomes.get(i));
        }
    }

    /** Completes or fails one job from its outcome ({@code null}: the executor returned no result). */
    private void finish(SubmittedJob job, JobOutcome outcome) {
        if (outcome == null || (outcome.failure() == null && outcome.result() == null)) {
            job.fail("the server failed while running the job: " + new IllegalStateException("the executor returned no result"));
            return;
        }
        JobFailedException failure = outcome.failure();
        if (failure != null) {
            if (failure.modelUnusable()) { // before the job's client hears of it, so its next job finds the model retired
                retire(failure.getMessage());
            }
            job.fail(failure.getMessage() == null ? "the job failed (" + failure + ")" : failure.getMessage());
            return;
        }
        byte[] result = outcome.result();
        if (result.length > limits.maxResultBytes()) {
            job.fail("result too large: " + result.length + " bytes, limit " + limits.maxResultBytes());
            return;
        }
        if (!job.complete(Compression.compress(result), result.length)) {
            LOG.debug("Job {} on model '{}' returned after it had ended; its result is dropped", job.id(), key);
        }
    }

    private void overtime(List<SubmittedJob> batch) {
        List<SubmittedJob> overdue = new ArrayList<>();
        lock.lock();
        try {
            if (closed) {
                return;
            }
            Thread worker = null;
            for (SubmittedJob job : batch) {
                Thread runs = running.get(job);
                if (runs != null && !job.terminal()) {
                    worker = runs;
                    overdue.add(job);
                }
            }
            if (overdue.isEmpty()) {
                return;
            }
            unavailable = "model '" + key + "' is unavailable: job " + overdue.get(0).id()
                    + " did not stop within its time limit and may still hold the model; the model takes jobs again "
                    + "once that job's code returns, or after a restart of the server";
            failQueued(unavailable); // before the jobs' clients hear of it, so that they find the rest as they will be
            String within = batch.size() == 1
                    ? "its time limit of " + describe(limits.timeLimit())
                    : "the time limit of the batch of " + batch.size() + " jobs it ran in (" + batch.size() + " × "
                            + describe(limits.timeLimit()) + ")";
            for (SubmittedJob job : overdue) {
                job.fail("the job did not stop within " + within + " (and " + describe(limits.stopGrace())
                        + " of grace): the server gave up on it");
            }
            worker.interrupt();
        } finally {
            lock.unlock();
        }
        LOG.warn("Job {} on model '{}' (in a batch of {}) did not stop within {} per job plus {} of grace: the model "
                + "takes no jobs until it returns", overdue.get(0).id(), key, batch.size(),
                describe(limits.timeLimit()), describe(limits.stopGrace()));
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
