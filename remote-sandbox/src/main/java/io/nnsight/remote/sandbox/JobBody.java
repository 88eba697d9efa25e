package io.nnsight.remote.sandbox;

import io.nnsight.remote.internal.sandbox.Deadline;
import io.nnsight.remote.internal.sandbox.JobOutput;
import io.nnsight.remote.spi.JobProgress;
import io.nnsight.spi.BodyContext;

/**
 * A batched job's state, in force while its code runs: its deadline, its output, and its class loader as the
 * thread's context class loader; its {@link JobProgress} says that its code runs (for the server's watchdog), and
 * its {@link Peers} move the other members' deadlines later by the time it ran.
 */
record JobBody(Deadline.Limit limit, JobOutput.Capture output, ClassLoader loader, Peers peers, JobProgress progress)
        implements BodyContext {
    @Override
    public Object enter() {
        Thread thread = Thread.currentThread();
        Previous previous = new Previous(Deadline.enter(limit), JobOutput.enter(output), thread.getContextClassLoader(),
                System.nanoTime());
        thread.setContextClassLoader(loader);
        progress.enter();
        return previous;
    }

    @Override
    public void leave(Object previous) {
        progress.leave();
        Previous outer = (Previous) previous;
        peers.ran(limit, System.nanoTime() - outer.entered());
        Thread.currentThread().setContextClassLoader(outer.loader());
        JobOutput.leave(outer.output());
        Deadline.leave(outer.limit());
    }

    /** What {@link #enter} replaced, and when. */
    private record Previous(Deadline.Limit limit, JobOutput.Capture output, ClassLoader loader, long entered) {}
}
