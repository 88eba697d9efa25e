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
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.remote.spi.JobProgress;
import io.nnsight.server.ModelReplicas;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
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
 * <p><b>Continuous batches.</b> A job whose replicas say it {@linkplain ModelReplicas#joinsContinuously joins
 * continuously} (a generation; asked when it is submitted) is not taken into such a batch when it is the oldest: the
 * worker runs {@link ModelReplicas#executeContinuous} instead, handing over waiting generations at each step boundary
 * and answering each as it leaves ({@link #runContinuously}).
 *
 * <p><b>Time limits.</b> The executor gets the job's time limit and stops the job's code itself; it reports where
 * each job is ({@link JobProgress}: whether its own code runs, where its deadline ends). If a job's code is still
 * running past its own limit plus the grace period, or a batch of k jobs has not returned after k time limits plus
 * the grace period, the {@link Watchdog} ends the job (and every other member of the batch still running) with
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
            List<byte[]> requests = new ArrayList<>();
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
                    watchdog = new Watchdog(batch);
                }
            } finally {
                lock.unlock();
            }
            if (batch == null) {
                runContinuously();
                continue;
            }
            run(batch, requests, watchdog.progress);
            lock.lock();
            try {
                watchdog.cancel();
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

    // ---- continuous batches of generations ----

    /**
     * Whether {@code job} joins continuous batches: its replicas batch, batches may hold more than one job, and they
     * say so of its request (a generation). Called at submission, before the job is queued.
     */
    private boolean joinsContinuously(SubmittedJob job) {
        if (!replicas.batches() || limits.batchJobs() <= 1) {
            return false;
        }
        try {
            return replicas.joinsContinuously(Compression.decompress(job.request(), limits.maxDecompressedRequestBytes()));
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
        ContinuousFeed feed = new ContinuousFeed();
        try {
            replicas.executeContinuous(feed);
        } catch (Throwable e) { // the worker must outlive any failure, errors included
            LOG.error("A continuous batch on model '{}' failed in the server", key, e);
            feed.failUnfinished("the server failed while running the job: " + e);
        }
        feed.failUnfinished("the server failed while running the job: the executor gave it no outcome");
        lock.lock();
        try {
            Thread.interrupted(); // an interrupt meant for the jobs just finished
            if (unavailable != null && !closed) {
                unavailable = null;
                LOG.info("An overdue job on model '{}' returned at last: the model takes jobs again", key);
            }
        } finally {
            lock.unlock();
        }
    }

    /** What a continuous batch takes its jobs from and gives their outcomes to. */
    private final class ContinuousFeed implements JobFeed {
        private final Map<JobFeed.Job, SubmittedJob> jobs = new IdentityHashMap<>();
        /** Each job's watchdog: a batch of one, from when it joined. */
        private final Map<JobFeed.Job, Watchdog> watchdogs = new IdentityHashMap<>();

        @Override
        public List<JobFeed.Job> take(int running) {
            List<SubmittedJob> taken = new ArrayList<>();
            List<byte[]> compressed = new ArrayList<>();
            List<Watchdog> watched = new ArrayList<>();
            lock.lock();
            try {
                while (!closed && unavailable == null && retired == null && running + taken.size() < limits.batchJobs()
                        && !queue.isEmpty() && queue.peekFirst().continuous) {
                    SubmittedJob job = queue.pollFirst();
                    ModelQueue.this.running.put(job, Thread.currentThread());
                    taken.add(job);
                    compressed.add(job.takeRequest());
                }
                if (taken.isEmpty()) {
                    return List.of();
                }
                publishPositions();
                for (SubmittedJob job : taken) {
                    job.publish(StatusMessage.of(job.id(), JobStatus.RUNNING, null));
                    watched.add(new Watchdog(List.of(job)));
                }
                batches.record(running + taken.size(), List.of(), 0, 0, 0);
            } finally {
                lock.unlock();
            }
            List<JobFeed.Job> fed = new ArrayList<>();
            for (int i = 0; i < taken.size(); i++) {
                SubmittedJob job = taken.get(i);
                byte[] request;
                try {
                    request = Compression.decompress(compressed.get(i), limits.maxDecompressedRequestBytes());
                } catch (Throwable e) { // checked at submission: a failure here is the server's
                    LOG.error("Job {} on model '{}' failed in the server", job.id(), key, e);
                    job.fail("the server failed while running the job: " + e);
                    done(job, watched.get(i));
                    continue;
                }
                Watchdog watchdog = watched.get(i);
                JobFeed.Job entry = new JobFeed.Job(request, new JobContext(job.id(), limits.timeLimit(), job::log,
                        watchdog.progress.get(0)));
                jobs.put(entry, job);
                watchdogs.put(entry, watchdog);
                fed.add(entry);
            }
            return fed;
        }

        @Override
        public void finished(JobFeed.Job entry, JobOutcome outcome) {
            SubmittedJob job = jobs.remove(entry);
            if (job == null) {
                return; // not one of ours, or answered already
            }
            done(job, watchdogs.remove(entry)); // before its client hears of it: its next job finds the key's quota free again
            finish(job, outcome);
        }

        @Override
        public int epochSteps() {
            return limits.batchEpochSteps();
        }

        /** Fails every job taken and not yet answered. */
        void failUnfinished(String why) {
            for (Map.Entry<JobFeed.Job, SubmittedJob> entry : jobs.entrySet()) {
                entry.getValue().fail(why);
                done(entry.getValue(), watchdogs.remove(entry.getKey()));
            }
            jobs.clear();
        }

        private void done(SubmittedJob job, Watchdog watchdog) {
            lock.lock();
            try {
                watchdog.cancel();
                ModelQueue.this.running.remove(job);
            } finally {
                lock.unlock();
            }
        }
    }

    /** How often the watchdog looks again at a member past its time limit whose code does not run now. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /**
     * Watches a running batch (one job, or several run by one call) for a job stuck in its own code: it wakes at
     * the earliest end of a member's time limit plus the grace period. If the member whose code runs now ({@link
     * JobProgress#inCode}) is past its own end plus the grace period, the worker is stuck in that code, and the
     * overtime rule applies ({@link #overtime}). Otherwise it waits again: a member waiting for its peers' code or
     * for the shared forward pass is not stuck (its executor moves its deadline later by that time), and a member
     * past its end stops at its next check once its code runs again (until then the watchdog looks every 100 ms).
     *
     * <p>Members whose executor reports no deadline end at the batch's bound: each member's time limit, one after the
     * other ({@code k} time limits for {@code k} jobs). Past that bound plus the grace period the overtime rule
     * applies whoever runs: no batch whose members keep to their limits takes that long, since each member is charged
     * for its own code and its forward pass only, so the forward pass itself (or the executor) is stuck.
     */
    private final class Watchdog implements Runnable {
        private final List<SubmittedJob> batch;
        /** Each member's progress, as its executor reports it. */
        final List<JobProgress> progress = new ArrayList<>();
        /** When the batch's bound ends, before the grace period. */
        private final long bound;
        private ScheduledFuture<?> next;
        private boolean over;

        /** Arms the watchdog of a batch that starts now; under the lock. */
        Watchdog(List<SubmittedJob> batch) {
            this.batch = batch;
            for (int i = 0; i < batch.size(); i++) {
                progress.add(new JobProgress());
            }
            long limit = limits.timeLimit().toNanos();
            long most = (Long.MAX_VALUE / 4 - limits.stopGrace().toNanos()) / batch.size();
            bound = System.nanoTime() + Math.min(limit, most) * batch.size();
            arm(Math.min(bound, earliestEnd()) + limits.stopGrace().toNanos());
        }

        /** The earliest a member's limit may end: its time limit from now. */
        private long earliestEnd() {
            return System.nanoTime() + Math.min(limits.timeLimit().toNanos(), Long.MAX_VALUE / 4);
        }

        private void arm(long at) {
            next = timer.schedule(this, Math.max(0, at - System.nanoTime()), TimeUnit.NANOSECONDS);
        }

        /** The batch returned; under the lock. */
        void cancel() {
            over = true;
            next.cancel(false);
        }

        @Override
        public void run() {
            lock.lock();
            try {
                if (over || closed) {
                    return;
                }
                long now = System.nanoTime();
                long grace = limits.stopGrace().toNanos();
                boolean live = false;
                long wake = bound + grace;
                for (int i = 0; i < batch.size(); i++) {
                    SubmittedJob job = batch.get(i);
                    if (!running.containsKey(job) || job.terminal()) {
                        continue;
                    }
                    live = true;
                    long due = progress.get(i).end().orElse(bound) + grace;
                    if (now - due >= 0 && progress.get(i).inCode()) {
                        overtime(batch, job);
                        return;
                    }
                    wake = Math.min(wake, due - now > 0 ? due : now + Math.min(grace, POLL_NANOS));
                }
                if (!live) {
                    return;
                }
                if (now - (bound + grace) >= 0) {
                    overtime(batch, null);
                    return;
                }
                arm(wake);
            } finally {
                lock.unlock();
            }
        }
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

    private void run(List<SubmittedJob> batch, List<byte[]> compressedRequests, List<JobProgress> progress) {
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
            contexts.add(new JobContext(job.id(), limits.timeLimit(), job::log, progress.get(i)));
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

    /**
     * Gives up on a batch whose worker is stuck: in {@code stuck}'s code, a member past its own time limit plus the
     * grace period, or, when {@code null}, past the batch's bound. The model takes no jobs until the worker returns,
     * the waiting jobs fail, and so do the members still running; the worker is interrupted. Under the lock.
     */
    private void overtime(List<SubmittedJob> batch, SubmittedJob stuck) {
        List<SubmittedJob> overdue = new ArrayList<>();
        Thread worker = null;
        for (SubmittedJob job : batch) {
            Thread runs = running.get(job);
            if (runs != null && !job.terminal()) {
                worker = runs;
                overdue.add(job);
            }
        }
        SubmittedJob blamed = stuck != null ? stuck : overdue.get(0);
        unavailable = "model '" + key + "' is unavailable: job " + blamed.id()
                + " did not stop within its time limit and may still hold the model; the model takes jobs again "
                + "once that job's code returns, or after a restart of the server";
        failQueued(unavailable); // before the jobs' clients hear of it, so that they find the rest as they will be
        String limit = describe(limits.timeLimit());
        String grace = " (and " + describe(limits.stopGrace()) + " of grace): the server gave up on it";
        for (SubmittedJob job : overdue) {
            if (job == stuck || batch.size() == 1) {
                job.fail("the job did not stop within its time limit of " + limit + grace);
            } else if (stuck != null) {
                job.fail("the job shared a batch with job " + stuck.id() + ", which did not stop within its time limit "
                        + "of " + limit + grace);
            } else {
                job.fail("the job did not stop within the time limit of the batch of " + batch.size() + " jobs it ran in ("
                        + batch.size() + " × " + limit + ")" + grace);
            }
        }
        worker.interrupt();
        LOG.warn("Job {} on model '{}' (in a batch of {}) did not stop within {} plus {} of grace: the model takes no "
                + "jobs until it returns", blamed.id(), key, batch.size(),
                stuck != null ? limit : batch.size() + " × " + limit, describe(limits.stopGrace()));
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
