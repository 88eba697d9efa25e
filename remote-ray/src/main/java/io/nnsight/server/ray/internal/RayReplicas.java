package io.nnsight.server.ray.internal;

import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.server.ModelReplicas;
import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.ray.api.WaitResult;
import io.ray.api.exception.RayActorException;
import io.ray.api.exception.RayException;
import io.ray.api.exception.RayTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replicas of one model as Ray actors ({@link ReplicaActor}), each in a worker JVM of the cluster, restarted by
 * Ray when its process dies. The server's workers hand over one job, or several waiting jobs that the replica
 * batches as the server's own model would, or a generation that joins the replica's continuous batch ({@link
 * #executeContinuous}); each call goes to the ready replica with the fewest running jobs. When
 * the replica dies before answering, its jobs have returned nothing, so they run once more on another ready replica;
 * if that one dies too, or there is none, they fail saying so. A call not answered within its jobs' time limits and a
 * grace is checked with its replica ({@link ReplicaActor#runningMillis}): time it spent waiting behind the replica's
 * other calls does not count, so it is given its limits from when it started there; jobs whose replica does not
 * answer that question, or has run them past their limits and the grace, are failed, and the replica restarted (a
 * fresh process reloads the model, as after lost weights). Each job's deadline, so moved, is its progress for the
 * server's watchdog.
 */
public final class RayReplicas implements ModelReplicas {
    private static final Logger LOG = LoggerFactory.getLogger(RayReplicas.class);
    /** How often Ray restarts a replica whose process died before it gives up on it. */
    static final int MAX_RESTARTS = 3;
    /** How long a restarted replica may take to load its model again. */
    private static final Duration RECOVERY = Duration.ofMinutes(5);
    /** How often the idle replicas are asked whether they live. */
    private static final Duration HEALTH_CHECK = Duration.ofSeconds(2);
    /**
     * How long past its jobs' time limits a replica may take to answer (the sandbox stops a job's code by its limit,
     * except in a native call): shorter than the server's own grace for a stuck batch ({@link
     * io.nnsight.server.ModelServer.Builder#stopGrace}, 10 s unless set), so that a stuck replica is restarted and its
     * jobs fail before the server gives up on the whole model, which would make it unavailable on every replica.
     */
    private static final Duration GRACE = Duration.ofSeconds(5);
    /**
     * How many calls a replica takes at once, each on a thread of its own: each generation of its continuous batch
     * holds one until it leaves ({@link #executeContinuous}), beside a batch's call. Calls past it wait in Ray's queue
     * until one ends, so it bounds a replica's idle threads, not its work; eight default batches' worth.
     */
    static final int CALLS_AT_ONCE = 128;
    /** How long {@link #close} waits for Ray to stop the replicas. */
    private static final Duration CLOSING = Duration.ofSeconds(10);
    /** How long a continuous batch's front end waits for an answer before it asks its feed for new generations. */
    private static final long JOIN_POLL_MILLIS = 2;

    private final String model;
    private final List<Member> replicas;
    private final ExecutorService recoveries = Executors.newCachedThreadPool(task -> daemon(task, "nnsight-ray-recovery"));
    /** Asks the idle replicas whether they live, so that one that died while idle is restarted before a job meets it. */
    private final ScheduledExecutorService health = Executors.newSingleThreadScheduledExecutor(
            task -> daemon(task, "nnsight-ray-health"));
    private final AtomicBoolean closed = new AtomicBoolean();
    /** The replica sets open in this JVM: the last one closed disconnects from the cluster. */
    private static final AtomicInteger OPEN = new AtomicInteger();

    private RayReplicas(String model, List<Member> replicas) {
        this.model = model;
        this.replicas = replicas;
    }

    private static Thread daemon(Runnable task, String name) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        return thread;
    }

    /** One replica: its actor, and what the front end knows of it. */
    private static final class Member {
        final int index;
        final ActorHandle<ReplicaActor> actor;
        volatile String state = "starting";
        volatile long pid;
        volatile String host = "";
        volatile String engine = "";
        final AtomicInteger running = new AtomicInteger();
        final AtomicLong jobs = new AtomicLong();
        /** The most generations that ran at once in its continuous batch beside the latest one answered. */
        volatile int lastContinuous;
        /** The most generations that ran at once in its continuous batch since the front end started. */
        final AtomicInteger mostContinuous = new AtomicInteger();

        Member(int index, ActorHandle<ReplicaActor> actor) {
            this.index = index;
            this.actor = actor;
        }

        boolean ready() {
            return state.equals("ready");
        }

        String describe() {
            return "replica " + index + " (process " + pid + " on " + host + ")";
        }
    }

    /**
     * Starts {@code count} replicas on the cluster {@link Ray#init()} joined and waits until each has loaded the
     * model.
     *
     * @param classPath nnsight's jars, on every node, separated by {@link java.io.File#pathSeparator}
     * @param jvmOptions options of the replicas' worker JVMs
     * @throws IllegalStateException when a replica cannot load the model, with its reason
     */
    public static RayReplicas start(String classPath, String model, String tokenizer, String dtype, String device,
            int count, List<String> jvmOptions) {
        List<Member> replicas = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            replicas.add(new Member(i, Ray.actor(ReplicaActor::new, classPath, model, tokenizer, dtype, device)
                    .setMaxRestarts(MAX_RESTARTS).setMaxConcurrency(CALLS_AT_ONCE).setJvmOptions(jvmOptions).remote()));
        }
        RayReplicas started = new RayReplicas(model, replicas);
        OPEN.incrementAndGet();
        for (Member replica : replicas) {
            String failure;
            try {
                failure = replica.actor.task(ReplicaActor::ready).remote().get(RECOVERY.toMillis());
            } catch (RayException e) {
                failure = "replica " + replica.index + " did not start: " + e.getMessage();
            }
            if (!failure.isEmpty()) {
                started.close();
                throw new IllegalStateException(failure);
            }
            started.identify(replica);
            LOG.info("Replica {} of {} is ready: process {} on {}", replica.index, model, replica.pid, replica.host);
        }
        started.health.scheduleWithFixedDelay(started::checkIdle, HEALTH_CHECK.toMillis(), HEALTH_CHECK.toMillis(),
                TimeUnit.MILLISECONDS);
        return started;
    }

    private void identify(Member replica) {
        replica.pid = replica.actor.task(ReplicaActor::pid).remote().get(RECOVERY.toMillis());
        replica.host = replica.actor.task(ReplicaActor::host).remote().get(RECOVERY.toMillis());
        replica.engine = replica.actor.task(ReplicaActor::engine).remote().get(RECOVERY.toMillis());
        replica.state = "ready";
    }

    @Override
    public int capacity() {
        return replicas.size();
    }

    /** Runs the job on a replica, as a call of one job ({@link #executeBatch}). */
    @Override
    public byte[] execute(byte[] request, JobContext context) throws JobFailedException {
        return executeBatch(List.of(request), List.of(context), BatchLimits.DEFAULT).outcomes().get(0).get();
    }

    /** Yes: a replica runs several jobs in shared forward passes, as a model in the server's JVM does. */
    @Override
    public boolean batches() {
        return true;
    }

    /**
     * Runs the jobs on one replica, the ready one with the fewest running jobs, in one call: it batches them as the
     * server's own model would ({@link io.nnsight.remote.sandbox.SandboxedExecutor#executeBatch}). If that replica dies
     * before it answers, none of the jobs has returned anything, so they all run once more, together, on another.
     */
    @Override
    public BatchReport executeBatch(List<byte[]> requests, List<JobContext> contexts, BatchLimits limits) {
        ReplicaCall call = ReplicaCall.of(requests, contexts, limits);
        byte[] bytes = call.write();
        int jobs = requests.size();
        Member first = pick(null, jobs);
        if (first == null) {
            return failed(jobs, noneReady());
        }
        try {
            return run(first, call, bytes, contexts);
        } catch (ReplicaDied died) {
            Member second = pick(first, jobs);
            if (second == null) {
                return failed(jobs, noOther(died.getMessage()));
            }
            contexts.forEach(context -> context.log().accept(runsAgain(died.getMessage(), second)));
            try {
                return run(second, call, bytes, contexts);
            } catch (ReplicaDied again) {
                return failed(jobs, diedTwice(died.getMessage(), again.getMessage()));
            }
        }
    }

    /** What a job whose replica died is told when no other can run it. */
    private String noOther(String died) {
        return died + ", and no other replica of " + model + " could take the job: " + noneReady();
    }

    /** The line a job's log gets when it runs again on {@code other} after its replica died. */
    private static String runsAgain(String died, Member other) {
        return "nnsight: " + died + "; the job runs again on " + other.describe();
    }

    /** What a job is told when the replica it ran again on died too. */
    private static String diedTwice(String first, String second) {
        return first + "; run again, it failed too: " + second + " (a job runs at most twice)";
    }

    /** Recovers {@code replica}, whose process ended while it ran jobs, and says so for them. */
    private String died(Member replica) {
        recover(replica);
        return replica.describe() + " died while running the job (its process ended)";
    }

    /** What jobs are told when their replica did not answer within their time limits ({@code limits}, together). */
    private static String timedOut(int jobs, Duration limits, Member replica) {
        return (jobs == 1 ? "the job did not stop within its time limit of " + limits.toSeconds() + " s"
                : "the batch of " + jobs + " jobs the job ran in did not end within their time limits, "
                        + limits.toSeconds() + " s together") + " (and " + GRACE.toSeconds() + " s of grace): "
                + replica.describe() + " was restarted";
    }

    /**
     * Takes a replica's answer to jobs of {@code contexts}: counts them, passes on the lines each printed, restarts the
     * replica if a job found its weights lost (a new process loads them afresh), and returns the report.
     *
     * @throws IllegalStateException when the answer has not one outcome per job
     */
    private BatchReport received(Member replica, ReplicaAnswer answered, List<JobContext> contexts) {
        int jobs = contexts.size();
        if (answered.outcomes().size() != jobs) {
            throw new IllegalStateException(replica.describe() + " answered " + answered.outcomes().size()
                    + " outcomes for " + jobs + " jobs: " + answered.outcomes());
        }
        replica.jobs.addAndGet(jobs);
        for (int i = 0; i < jobs; i++) {
            answered.outcomes().get(i).log().forEach(contexts.get(i).log());
        }
        answered.outcomes().stream().filter(Outcome::modelUnusable).findFirst()
                .ifPresent(unusable -> restart(replica, unusable.failure()));
        return answered.report();
    }

    /** Generations: each joins a replica's continuous batch ({@link #executeContinuous}). */
    @Override
    public boolean joinsContinuously(byte[] header) {
        return SandboxedExecutor.generates(header);
    }

    /**
     * Runs the generations the feed gives on the replicas, each by a call of its own to the ready replica with the
     * fewest running jobs, where it joins the continuous batch at the next step boundary and from which it is answered
     * when it leaves, while the others go on; the feed is asked for more every few milliseconds, and after each
     * answer. A generation whose replica dies before it answers runs once more on another; one that is not answered
     * within its time limit and a grace fails, and its replica is restarted (the others there then run again
     * elsewhere). A replica whose model does not batch generations runs them one after another.
     */
    @Override
    public void executeContinuous(JobFeed feed) {
        Map<ObjectRef<byte[]>, Joined> inFlight = new IdentityHashMap<>(); // Ray's refs are equal only to themselves
        while (!closed.get() && !Thread.currentThread().isInterrupted()) {
            for (JobFeed.Job job : feed.take(inFlight.size())) {
                byte[] call = ReplicaCall.joining(job.request(), job.context(), feed.epochSteps(), feed.limits())
                        .write();
                Member replica = pick(null, 1);
                if (replica == null) {
                    feed.finished(job, JobOutcome.failed(new JobFailedException(noneReady())));
                } else {
                    join(inFlight, new Joined(job, call, replica, null));
                }
            }
            if (inFlight.isEmpty()) {
                return;
            }
            WaitResult<byte[]> answered;
            try {
                answered = Ray.wait(new ArrayList<>(inFlight.keySet()), 1, (int) JOIN_POLL_MILLIS, false);
            } catch (RayException e) { // the driver lost the cluster: the generations sent cannot be followed
                LOG.warn("Ray could not wait for the generations of {}", model, e);
                for (Joined lost : inFlight.values()) {
                    lost.replica.running.decrementAndGet();
                    feed.finished(lost.job, JobOutcome.failed(new JobFailedException("Ray could not follow the job on "
                            + lost.replica.describe() + ": " + e.getMessage())));
                }
                inFlight.clear();
                continue;
            }
            for (ObjectRef<byte[]> ready : answered.getReady()) {
                settle(feed, inFlight, inFlight.remove(ready), ready);
            }
            long now = System.nanoTime();
            for (Iterator<Joined> calls = inFlight.values().iterator(); calls.hasNext(); ) {
                Joined joined = calls.next();
                if (now - joined.deadline.end() >= 0
                        && !joined.deadline.moveLater(runningMillis(joined.replica, joined.job.context().id()))) {
                    calls.remove();
                    joined.replica.running.decrementAndGet();
                    if (joined.replica.ready()) { // once for all its overdue generations
                        restart(joined.replica, "a generation did not answer within its time limit");
                    }
                    feed.finished(joined.job, JobOutcome.failed(new JobFailedException(
                            timedOut(1, joined.job.context().timeLimit(), joined.replica))));
                }
            }
        }
        inFlight.values().forEach(left -> left.replica.running.decrementAndGet()); // the server closes: it fails them
    }

    /**
     * A generation's call to its replica, until answered: its job, the call's bytes, where it runs and, if it runs
     * again, what happened to the replica that ran it first.
     */
    private static final class Joined {
        final JobFeed.Job job;
        final byte[] call;
        final Member replica;
        /** How its first replica died, if it runs again; else {@code null}. */
        final String died;
        /** When it must have been answered. */
        final CallDeadline deadline;

        Joined(JobFeed.Job job, byte[] call, Member replica, String died) {
            this.job = job;
            this.call = call;
            this.replica = replica;
            this.died = died;
            this.deadline = new CallDeadline(job.context().timeLimit(), GRACE);
            job.context().progress().deadline(deadline::end);
        }
    }

    /** Sends the generation's call to its replica, picked (and counted) by {@link #pick}. */
    private static void join(Map<ObjectRef<byte[]>, Joined> inFlight, Joined joined) {
        inFlight.put(joined.replica.actor.task(ReplicaActor::execute, joined.call).remote(), joined);
    }

    /**
     * Ends an answered generation through the feed: with its outcome, or, if its replica died, by running it once
     * more on another ready replica, or failing it.
     */
    private void settle(JobFeed feed, Map<ObjectRef<byte[]>, Joined> inFlight, Joined joined, ObjectRef<byte[]> ready) {
        Member replica = joined.replica;
        ReplicaAnswer answer;
        try {
            answer = ReplicaAnswer.read(ready.get());
        } catch (RayActorException e) {
            String what = died(replica);
            Member other = joined.died == null ? pick(replica, 1) : null;
            if (other != null) {
                joined.job.context().log().accept(runsAgain(what, other));
                join(inFlight, new Joined(joined.job, joined.call, other, what));
            } else {
                feed.finished(joined.job, JobOutcome.failed(new JobFailedException(joined.died != null
                        ? diedTwice(joined.died, what) : noOther(what))));
            }
            return;
        } catch (RayException e) {
            feed.finished(joined.job, JobOutcome.failed(new JobFailedException("Ray could not run the job on "
                    + replica.describe() + ": " + e.getMessage())));
            return;
        } finally {
            replica.running.decrementAndGet();
        }
        JobOutcome outcome;
        try {
            outcome = received(replica, answer, List.of(joined.job.context())).outcomes().get(0);
            answer.continued().tell(feed);
            int together = answer.forwards().stream().mapToInt(BatchReport.Forward::rows).max().orElse(1);
            replica.lastContinuous = together;
            replica.mostContinuous.accumulateAndGet(together, Math::max);
        } catch (IllegalStateException e) {
            outcome = JobOutcome.failed(new JobFailedException("the server failed while running the job: "
                    + e.getMessage()));
        }
        feed.finished(joined.job, outcome);
    }

    /**
     * What {@code replica} says of the call whose first job is {@code job}: how long it has run the call ({@link
     * ReplicaActor#runningMillis}); empty when it does not answer within the grace, even this question, which runs
     * beside its calls.
     */
    private static OptionalLong runningMillis(Member replica, String job) {
        try {
            return OptionalLong.of(replica.actor.task(ReplicaActor::runningMillis, job).remote().get(GRACE.toMillis()));
        } catch (RayException e) {
            return OptionalLong.empty();
        }
    }

    /** Each of {@code jobs} jobs fails with {@code message}: none ran. */
    private static BatchReport failed(int jobs, String message) {
        List<JobOutcome> outcomes = new ArrayList<>(jobs);
        for (int i = 0; i < jobs; i++) {
            outcomes.add(JobOutcome.failed(new JobFailedException(message)));
        }
        return BatchReport.oneAtATime(outcomes);
    }

    /**
     * The ready replica with the fewest running jobs, other than {@code excluded}, or {@code null}; it counts {@code
     * jobs} more running at once, so concurrent picks spread.
     */
    private Member pick(Member excluded, int jobs) {
        synchronized (replicas) {
            Member picked = replicas.stream().filter(Member::ready).filter(replica -> replica != excluded)
                    .min(Comparator.comparingInt(replica -> replica.running.get())).orElse(null);
            if (picked != null) {
                picked.running.addAndGet(jobs);
            }
            return picked;
        }
    }

    private String noneReady() {
        return "no replica of " + model + " is ready (" + String.join(", ", replicas.stream()
                .map(replica -> "replica " + replica.index + " " + replica.state).toList()) + "): try again shortly";
    }

    /**
     * Runs the call's jobs on {@code replica}, picked (and counted) by {@link #pick}, and passes on the lines each job
     * printed. The replica has the jobs' time limits, added up, and a grace to answer; past that it is restarted and
     * the jobs fail.
     */
    private BatchReport run(Member replica, ReplicaCall call, byte[] bytes, List<JobContext> contexts)
            throws ReplicaDied {
        int jobs = call.jobs().size();
        try {
            ObjectRef<byte[]> answer = replica.actor.task(ReplicaActor::execute, bytes).remote();
            CallDeadline deadline = new CallDeadline(call.timeLimits(), GRACE);
            contexts.forEach(context -> context.progress().deadline(deadline::end));
            ReplicaAnswer answered = null;
            while (answered == null) {
                try {
                    answered = ReplicaAnswer.read(answer.get(deadline.millisLeft()));
                } catch (RayTimeoutException e) {
                    if (!deadline.moveLater(runningMillis(replica, call.jobs().get(0).id()))) {
                        restart(replica, "it did not answer within the time limits of its jobs");
                        return failed(jobs, timedOut(jobs, call.timeLimits(), replica));
                    }
                } catch (RayActorException e) {
                    throw new ReplicaDied(died(replica));
                } catch (RayException e) {
                    return failed(jobs, "Ray could not run the job on " + replica.describe() + ": " + e.getMessage());
                }
            }
            return received(replica, answered, contexts);
        } finally {
            replica.running.addAndGet(-jobs);
        }
    }

    /**
     * Asks each idle, ready replica for its process id: one whose process is gone is recovered, one that Ray has
     * restarted meanwhile (the call waits for the new process) is known by its new process.
     */
    private void checkIdle() {
        for (Member replica : replicas) {
            if (!replica.ready() || replica.running.get() > 0) {
                continue; // a busy replica answers only after its job; the job will tell
            }
            try {
                long pid = replica.actor.task(ReplicaActor::pid).remote().get(HEALTH_CHECK.toMillis());
                if (pid != replica.pid) { // Ray restarted it in the meantime: the call waited for the new process
                    LOG.warn("{} of {} died while idle; Ray restarted it as process {}", replica.describe(), model, pid);
                    String failure = replica.actor.task(ReplicaActor::ready).remote().get(RECOVERY.toMillis());
                    if (failure.isEmpty()) {
                        identify(replica);
                    } else {
                        replica.state = "failed: " + failure;
                    }
                }
            } catch (RayActorException e) {
                LOG.warn("{} of {} died while idle", replica.describe(), model);
                recover(replica);
            } catch (RayException e) {
                LOG.debug("{} did not answer the health check in time", replica.describe(), e);
            }
        }
    }

    /** Kills the replica's process so that Ray starts it again, and waits for it in the background. */
    private void restart(Member replica, String why) {
        LOG.warn("Restarting {} of {}: {}", replica.describe(), model, why);
        replica.state = "restarting";
        replica.actor.kill(false);
        recover(replica);
    }

    /** Marks the replica as recovering and, in the background, waits until Ray has it running again. */
    private void recover(Member replica) {
        synchronized (replicas) {
            if (!replica.ready() && !replica.state.equals("restarting")) {
                return; // already being recovered
            }
            replica.state = "recovering";
        }
        recoveries.execute(() -> {
            long end = System.nanoTime() + RECOVERY.toNanos();
            while (!closed.get() && System.nanoTime() < end) {
                try {
                    String failure = replica.actor.task(ReplicaActor::ready).remote().get(RECOVERY.toMillis());
                    if (failure.isEmpty()) {
                        identify(replica);
                        LOG.info("{} of {} is ready again", replica.describe(), model);
                    } else {
                        replica.state = "failed: " + failure;
                    }
                    return;
                } catch (RayException e) {
                    sleep(); // the actor is still restarting (or out of restarts, until the end)
                }
            }
            replica.state = "dead";
            LOG.error("Replica {} of {} did not come back within {} min", replica.index, model, RECOVERY.toMinutes());
        });
    }

    private static void sleep() {
        try {
            TimeUnit.MILLISECONDS.sleep(500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public List<Map<String, Object>> status() {
        List<Map<String, Object>> list = new ArrayList<>();
        for (Member replica : replicas) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("replica", replica.index);
            entry.put("state", replica.state);
            entry.put("host", replica.host);
            entry.put("pid", replica.pid);
            entry.put("engine", replica.engine);
            entry.put("running", replica.running.get());
            entry.put("jobs", replica.jobs.get());
            Map<String, Object> continuous = new LinkedHashMap<>();
            continuous.put("last", replica.lastContinuous);
            continuous.put("max", replica.mostContinuous.get());
            entry.put("continuous", continuous);
            list.add(entry);
        }
        return list;
    }

    /**
     * Kills the replicas and, with the last replica set of this JVM, leaves the cluster; waits at most {@link
     * #CLOSING} for Ray (whose kill call has been seen to block for good), after which the replicas end with this
     * driver's job, as Ray ends the actors a job owns.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        health.shutdownNow();
        recoveries.shutdownNow();
        boolean last = OPEN.decrementAndGet() == 0;
        Thread closing = daemon(() -> {
            for (Member replica : replicas) {
                try {
                    replica.actor.kill(true);
                } catch (RayException e) {
                    LOG.debug("{} was gone already", replica.describe(), e);
                }
            }
            if (last) {
                Ray.shutdown();
            }
        }, "nnsight-ray-close");
        closing.start();
        try {
            closing.join(CLOSING.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (closing.isAlive()) {
            LOG.warn("Ray did not stop the replicas of {} within {} s; they end with this process", model,
                    CLOSING.toSeconds());
        }
    }

    /** The replica running a job died before it answered: the job returned nothing and may run again. */
    private static final class ReplicaDied extends Exception {
        private static final long serialVersionUID = 1L;

        ReplicaDied(String message) {
            super(message, null, false, false);
        }
    }
}
