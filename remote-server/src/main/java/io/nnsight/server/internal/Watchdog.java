package io.nnsight.server.internal;

import io.nnsight.remote.spi.JobProgress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a running batch of a {@link ModelQueue} (one job, or several run by one call) for a job stuck in its own
 * code: it wakes at the earliest end of a member's time limit plus the grace period. If the member whose code runs
 * now ({@link JobProgress#inCode}) is past its own end plus the grace period, the worker is stuck in that code, and
 * the overtime rule applies ({@link #overtime}). Otherwise it waits again: a member waiting for its
 * peers' code or for the shared forward pass is not stuck (its executor moves its deadline later by that time), and a
 * member past its end stops at its next check once its code runs again (until then the watchdog looks every 100 ms).
 *
 * <p>Members whose executor reports no deadline end at the batch's bound: each member's time limit, one after the
 * other ({@code k} time limits for {@code k} jobs). Past that bound plus the grace period the overtime rule applies
 * whoever runs: no batch whose members keep to their limits takes that long, since each member is charged for its
 * own code and its forward pass only, so the forward pass itself (or the executor) is stuck. An executor that runs
 * the jobs elsewhere may report an end past the bound (a Ray replica's call that waited there behind other calls):
 * the latest end reported then stands in for the bound.
 *
 * <p>It runs under the queue's lock.
 */
final class Watchdog implements Runnable {
    /** The queue's log: a batch given up on is the queue's event. */
    private static final Logger LOG = LoggerFactory.getLogger(ModelQueue.class);
    /** How often the watchdog looks again at a member past its time limit whose code does not run now. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final ModelQueue queue;
    private final Limits limits;
    private final ScheduledExecutorService timer;
    private final List<SubmittedJob> batch;
    /** Each member's progress, as its executor reports it. */
    private final List<JobProgress> progress = new ArrayList<>();
    /** When the batch's bound ends, before the grace period. */
    private final long bound;
    private ScheduledFuture<?> next;
    private boolean over;

    /** Arms the watchdog of {@code queue}'s batch that starts now; under the queue's lock. */
    Watchdog(ModelQueue queue, Limits limits, ScheduledExecutorService timer, List<SubmittedJob> batch) {
        this.queue = queue;
        this.limits = limits;
        this.timer = timer;
        this.batch = batch;
        for (int i = 0; i < batch.size(); i++) {
            progress.add(new JobProgress());
        }
        long limit = limits.timeLimit().toNanos();
        long most = (Long.MAX_VALUE / 4 - limits.stopGrace().toNanos()) / batch.size();
        bound = System.nanoTime() + Math.min(limit, most) * batch.size();
        arm(Math.min(bound, earliestEnd()) + limits.stopGrace().toNanos());
    }

    /** Each member's progress, in the batch's order: its executor keeps it current. */
    List<JobProgress> progress() {
        return progress;
    }

    /** The earliest a member's limit may end: its time limit from now. */
    private long earliestEnd() {
        return System.nanoTime() + Math.min(limits.timeLimit().toNanos(), Long.MAX_VALUE / 4);
    }

    private void arm(long at) {
        next = timer.schedule(this, Math.max(0, at - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    /** The batch returned; under the queue's lock. */
    void cancel() {
        over = true;
        next.cancel(false);
    }

    @Override
    public void run() {
        queue.lock.lock();
        try {
            if (over || queue.closed()) {
                return;
            }
            long now = System.nanoTime();
            long grace = limits.stopGrace().toNanos();
            long latest = bound; // or a later end a member's executor reports
            for (int i = 0; i < batch.size(); i++) {
                long end = progress.get(i).end().orElse(bound);
                if (queue.worker(batch.get(i)) != null && !batch.get(i).terminal() && end - latest > 0) {
                    latest = end;
                }
            }
            boolean live = false;
            long wake = latest + grace;
            for (int i = 0; i < batch.size(); i++) {
                SubmittedJob job = batch.get(i);
                if (queue.worker(job) == null || job.terminal()) {
                    continue;
                }
                live = true;
                long due = progress.get(i).end().orElse(bound) + grace;
                if (now - due >= 0 && progress.get(i).inCode()) {
                    overtime(job);
                    return;
                }
                wake = Math.min(wake, due - now > 0 ? due : now + Math.min(grace, POLL_NANOS));
            }
            if (!live) {
                return;
            }
            if (now - (latest + grace) >= 0) {
                overtime(null);
                return;
            }
            arm(wake);
        } finally {
            queue.lock.unlock();
        }
    }

    /**
     * Gives up on the batch, whose worker is stuck: in {@code stuck}'s code, a member past its own time limit plus the
     * grace period, or, when {@code null}, past the batch's bound. The model takes no jobs until the worker returns
     * ({@link ModelQueue#stuckIn}), the waiting jobs fail, and so do the members still running; the worker is
     * interrupted. Under the queue's lock.
     */
    private void overtime(SubmittedJob stuck) {
        List<SubmittedJob> overdue = new ArrayList<>();
        Thread worker = null;
        for (SubmittedJob job : batch) {
            Thread runs = queue.worker(job);
            if (runs != null && !job.terminal()) {
                worker = runs;
                overdue.add(job);
            }
        }
        SubmittedJob blamed = stuck != null ? stuck : overdue.get(0);
        queue.stuckIn(blamed); // before the jobs' clients hear of it, so that they find the rest as they will be
        String limit = ModelQueue.describe(limits.timeLimit());
        String grace = " (and " + ModelQueue.describe(limits.stopGrace()) + " of grace): the server gave up on it";
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
                + "jobs until it returns", blamed.id(), queue.key(), batch.size(),
                stuck != null ? limit : batch.size() + " × " + limit, ModelQueue.describe(limits.stopGrace()));
    }
}
