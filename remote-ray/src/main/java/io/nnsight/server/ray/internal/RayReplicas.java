package io.nnsight.server.ray.internal;

import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.server.ModelReplicas;
import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.ray.api.exception.RayActorException;
import io.ray.api.exception.RayException;
import io.ray.api.exception.RayTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * batches as the server's own model would; each call goes to the ready replica with the fewest running jobs. When
 * the replica dies before answering, its jobs have returned nothing, so they run once more on another ready replica;
 * if that one dies too, or there is none, they fail saying so. Jobs whose replica does not answer within their time
 * limits and a grace are failed, and the replica restarted (a fresh process reloads the model, as after lost
 * weights).
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
                    .setMaxRestarts(MAX_RESTARTS).setJvmOptions(jvmOptions).remote()));
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
                return failed(jobs, died.getMessage() + ", and no other replica of " + model + " could take the job: "
                        + noneReady());
            }
            contexts.forEach(context -> context.log().accept("nnsight: " + died.getMessage() + "; the job runs again on "
                    + second.describe()));
            try {
                return run(second, call, bytes, contexts);
            } catch (ReplicaDied again) {
                return failed(jobs, died.getMessage() + "; run again, it failed too: " + again.getMessage()
                        + " (a job runs at most twice)");
            }
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
            ReplicaAnswer answered;
            try {
                answered = ReplicaAnswer.read(answer.get(call.timeLimits().plus(GRACE).toMillis()));
            } catch (RayTimeoutException e) {
                restart(replica, "it did not answer within the time limits of its jobs");
                return failed(jobs, (jobs == 1 ? "the job did not stop within its time limit of "
                        + call.timeLimits().toSeconds() + " s" : "the batch of " + jobs + " jobs the job ran in did not "
                        + "end within their time limits, " + call.timeLimits().toSeconds() + " s together") + " (and "
                        + GRACE.toSeconds() + " s of grace): " + replica.describe() + " was restarted");
            } catch (RayActorException e) {
                String what = replica.describe() + " died while running the job (its process ended)";
                recover(replica);
                throw new ReplicaDied(what);
            } catch (RayException e) {
                return failed(jobs, "Ray could not run the job on " + replica.describe() + ": " + e.getMessage());
            }
            if (answered.outcomes().size() != jobs) {
                throw new IllegalStateException(replica.describe() + " answered " + answered.outcomes().size()
                        + " outcomes for " + jobs + " jobs: " + answered.outcomes());
            }
            replica.jobs.addAndGet(jobs);
            for (int i = 0; i < jobs; i++) {
                answered.outcomes().get(i).log().forEach(contexts.get(i).log());
            }
            answered.outcomes().stream().filter(Outcome::modelUnusable).findFirst()
                    .ifPresent(unusable -> restart(replica, unusable.failure())); // a new process loads the weights afresh
            return answered.report();
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
            list.add(entry);
        }
        return list;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        health.shutdownNow();
        recoveries.shutdownNow();
        for (Member replica : replicas) {
            try {
                replica.actor.kill(true);
            } catch (RayException e) {
                LOG.debug("{} was gone already", replica.describe(), e);
            }
        }
        if (OPEN.decrementAndGet() == 0) {
            Ray.shutdown();
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
