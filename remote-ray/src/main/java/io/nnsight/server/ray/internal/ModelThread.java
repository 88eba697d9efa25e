package io.nnsight.server.ray.internal;

import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The one thread on which a {@link Replica} uses its model, and the continuous batch of generations that runs there.
 * The replica's actor takes several calls at once, each on a thread of Ray's; they take turns here:
 *
 * <ul>
 *   <li>a call's batch ({@link #run}) runs when the model thread is free;
 *   <li>a generation's call ({@link #join}) hands it to the continuous batch, which it joins at the next step
 *       boundary, starting a batch if none runs; the call is answered as soon as the generation leaves, while the
 *       others go on, as a model server's own queue feeds its continuous batch. The batch ends when it runs no job
 *       and none waits.
 * </ul>
 *
 * A batch waiting for the model thread stops the handing over: the running generations finish, the batch runs, and the
 * generations that came meanwhile start the next continuous batch, so neither kind waits behind the other for long.
 */
final class ModelThread {
    private final ExecutorService thread;
    /** Runs a continuous batch of the feed's jobs on the model ({@code SandboxedExecutor.executeContinuous}). */
    private final Consumer<JobFeed> continuous;
    private final Feed feed = new Feed();
    /** Generations whose calls came and that have not joined the batch yet, oldest first; under the lock. */
    private final ArrayDeque<Joining> waiting = new ArrayDeque<>();
    /** Generations in the continuous batch, by their job; under the lock. */
    private final Map<JobFeed.Job, Joining> running = new IdentityHashMap<>();
    /** Calls' batches submitted to the thread and not started; under the lock. */
    private int batchesWaiting;
    /**
     * What the continuous batch did since a generation was last answered, which the next answer carries: its steps, and
     * the counts of its jobs that ran alone; under the lock.
     */
    private final List<BatchReport.Forward> steps = new ArrayList<>();
    private int solo;
    private int evicted;
    private int reruns;
    /** Whether a continuous batch runs or is submitted to the thread; under the lock. */
    private boolean continuing;
    /** The epoch length of the batch: the latest call's (the front end gives every call the same); under the lock. */
    private int epochSteps = JobFeed.DEFAULT_EPOCH_STEPS;
    /** The batch's limits: the latest call's, likewise; under the lock. */
    private BatchLimits limits = BatchLimits.DEFAULT;
    /**
     * Each job of a call not answered yet, by id: the {@link System#nanoTime()} at which its call started on the model
     * thread, or {@link #NOT_STARTED} before.
     */
    private final Map<String, Long> calls = new ConcurrentHashMap<>();
    private static final long NOT_STARTED = Long.MIN_VALUE;

    /** {@link #runningFor}'s answer for a job whose call waits for the model thread. */
    static final long WAITING = -1;
    /** {@link #runningFor}'s answer for a job that has no call here: answered, or never called. */
    static final long UNKNOWN = -2;

    /** A thread whose continuous batches {@code continuous} runs on the replica's model. */
    ModelThread(Consumer<JobFeed> continuous) {
        this.continuous = continuous;
        this.thread = Executors.newSingleThreadExecutor(task -> {
            Thread model = new Thread(task, "nnsight-replica-model");
            model.setDaemon(true);
            model.setContextClassLoader(ModelThread.class.getClassLoader());
            return model;
        });
    }

    /** A generation of a call, its log, and the call's answer once it leaves. */
    private static final class Joining {
        final JobFeed.Job job;
        final List<String> log = Collections.synchronizedList(new ArrayList<>());
        final CompletableFuture<byte[]> answer = new CompletableFuture<>();
        /** The most generations that ran at once while it ran; under the lock. */
        int mostRunning;

        Joining(ReplicaCall.Job job) {
            this.job = new JobFeed.Job(job.request(), new JobContext(job.id(), job.timeLimit(), log::add));
        }

        /**
         * Answers the call with {@code outcome}: the report counts the job in a forward pass of as many rows as
         * generations ran at once, if others ran beside it, or as alone; the answer carries what the batch did since the
         * previous answer.
         */
        void answer(JobOutcome outcome, ReplicaAnswer.Continued continued) {
            BatchReport report = mostRunning > 1
                    ? new BatchReport(List.of(outcome), List.of(new BatchReport.Forward(1, mostRunning, mostRunning)), 0,
                            0, 0)
                    : BatchReport.oneAtATime(List.of(outcome));
            answer.complete(ReplicaAnswer.of(report, List.of(log), continued).write());
        }
    }

    /**
     * How long the job {@code id}'s call has run on the model thread, in nanoseconds: {@link #WAITING} while it waits
     * for it, {@link #UNKNOWN} when no call of the job is here (answered, or never called). What the front end asks a
     * replica that is late to answer: a call that waits behind others is not late. For a generation in the continuous
     * batch, how much of its time limit it has used as the executor counts it ({@link JobContext#progress()}): its
     * peers' code is not its own, and a generation that waits for room in the batch ({@link JobFeed#limits()}) has
     * used none.
     */
    long runningFor(String id) {
        Long started = calls.get(id);
        if (started == null || started == NOT_STARTED) {
            return started == null ? UNKNOWN : WAITING;
        }
        JobContext joined = joined(id);
        OptionalLong end = joined == null ? OptionalLong.empty() : joined.progress().end();
        if (end.isPresent()) { // what it used of its limit, as the executor counts it: none while it waits for room
            long limit = Math.min(joined.timeLimit().toNanos(), Long.MAX_VALUE / 4);
            return Math.max(0, limit - (end.getAsLong() - System.nanoTime()));
        }
        return Math.max(0, System.nanoTime() - started);
    }

    /** The context of the generation {@code id} in the continuous batch, or {@code null}. */
    private synchronized JobContext joined(String id) {
        for (JobFeed.Job job : running.keySet()) {
            if (job.context().id().equals(id)) {
                return job.context();
            }
        }
        return null;
    }

    /** Runs the jobs {@code ids}' {@code batch} on the model thread once it is free, and returns its answer. */
    byte[] run(List<String> ids, Supplier<byte[]> batch) throws InterruptedException {
        ids.forEach(id -> calls.put(id, NOT_STARTED));
        try {
            Future<byte[]> answer;
            synchronized (this) { // counted before it is submitted: a continuous batch ending now hands over no more
                batchesWaiting++;
                answer = thread.submit(() -> {
                    synchronized (this) {
                        batchesWaiting--;
                    }
                    long now = System.nanoTime();
                    ids.forEach(id -> calls.put(id, now));
                    return batch.get();
                });
            }
            try {
                return answer.get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("the batch failed on the model thread", e.getCause());
            }
        } finally {
            ids.forEach(calls::remove);
        }
    }

    /**
     * Hands the call's generation to the continuous batch, starting one if none runs, and returns its answer when it
     * leaves.
     */
    byte[] join(ReplicaCall call) throws InterruptedException {
        Joining joining = new Joining(call.jobs().get(0));
        String id = joining.job.context().id();
        calls.put(id, NOT_STARTED);
        try {
            return joined(joining, call);
        } finally {
            calls.remove(id);
        }
    }

    /** Hands {@code joining} over as {@link #join} says. */
    private byte[] joined(Joining joining, ReplicaCall call) throws InterruptedException {
        synchronized (this) {
            epochSteps = call.epochSteps();
            limits = call.limits();
            waiting.add(joining);
            continueIfIdle();
        }
        try {
            return joining.answer.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("the generation failed on the model thread", e.getCause());
        }
    }

    /** What the batch did since the last answer, no longer kept; under the lock. */
    private ReplicaAnswer.Continued drainContinued() {
        ReplicaAnswer.Continued drained = new ReplicaAnswer.Continued(steps, solo, evicted, reruns);
        steps.clear();
        solo = 0;
        evicted = 0;
        reruns = 0;
        return drained;
    }

    /** Submits a continuous batch if none runs and a generation waits; under the lock. */
    private void continueIfIdle() {
        if (!continuing && !waiting.isEmpty()) {
            continuing = true;
            thread.execute(this::runContinuously);
        }
    }

    private void runContinuously() {
        String unanswered = "the continuous batch ended without the job's outcome";
        try {
            continuous.accept(feed);
        } catch (RuntimeException | Error e) { // every call must be answered, whatever happened
            unanswered = "the replica failed while running the job: " + e;
        } finally {
            synchronized (this) {
                continuing = false;
                for (Joining left : running.values()) {
                    left.answer(JobOutcome.failed(new JobFailedException(unanswered)), drainContinued());
                }
                running.clear();
                continueIfIdle(); // those that waited for a batch: after it, as it was submitted first
            }
        }
    }

    /** What the continuous batch takes its generations from and gives their outcomes to. */
    private final class Feed implements JobFeed {
        @Override
        public List<JobFeed.Job> take(int runningNow) {
            synchronized (ModelThread.this) {
                List<JobFeed.Job> joining = List.of(); // at most steps nothing joins: no list made
                if (batchesWaiting == 0 && !waiting.isEmpty()) {
                    joining = new ArrayList<>(waiting.size());
                    long now = System.nanoTime();
                    for (Joining next = waiting.poll(); next != null; next = waiting.poll()) {
                        running.put(next.job, next);
                        joining.add(next.job);
                        calls.put(next.job.context().id(), now);
                    }
                }
                for (Joining each : running.values()) { // those taken now count once they run (one may wait for room)
                    each.mostRunning = Math.max(each.mostRunning, runningNow);
                }
                return joining;
            }
        }

        @Override
        public void finished(JobFeed.Job job, JobOutcome outcome) {
            Joining left;
            ReplicaAnswer.Continued ran;
            synchronized (ModelThread.this) {
                left = running.remove(job);
                ran = left == null ? ReplicaAnswer.Continued.NONE : drainContinued();
            }
            if (left != null) {
                left.answer(outcome, ran);
            }
        }

        @Override
        public void stepped(BatchReport.Forward step) {
            synchronized (ModelThread.this) {
                steps.add(step);
            }
        }

        @Override
        public void runsAlone(int alone, int evictedNow, int rerunNow) {
            synchronized (ModelThread.this) {
                solo += alone;
                evicted += evictedNow;
                reruns += rerunNow;
            }
        }

        @Override
        public int epochSteps() {
            synchronized (ModelThread.this) {
                return epochSteps;
            }
        }

        @Override
        public BatchLimits limits() {
            synchronized (ModelThread.this) {
                return limits;
            }
        }
    }
}
