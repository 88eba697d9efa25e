package io.nnsight.remote;

import io.nnsight.TraceJob;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.http.StatusLine;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import io.nnsight.remote.internal.shipping.Shipment;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A job sent to a server with {@link Remote#submit}: where it stands, and its result once it has one.
 *
 * <pre>{@code
 * RemoteJob<Tensor> job = server.submit(new TraceJob<>(lm, "Hello", tr -> lm.get("lm_head").output()));
 * while (job.poll().isEmpty()) {
 *     doSomethingElse();                      // job.state() says QUEUED, RUNNING...
 * }
 * Tensor logits = job.poll().get();
 * }</pre>
 *
 * <p>A handle is for one thread at a time.
 *
 * @param <R> the type of the job's result
 */
public final class RemoteJob<R> {
    /** Where a job stands. */
    public enum State {
        /** The server has the job. */
        RECEIVED,
        /** The job waits for the model behind others. */
        QUEUED,
        /** The job runs. */
        RUNNING,
        /** The job ended; its result is ready. */
        COMPLETED,
        /** The job failed, or the server lost it. */
        ERROR
    }

    private final HttpTransport transport;
    private final Shipment shipment;
    private final Consumer<StatusMessage> display;
    private final long maxResultBytes;
    private StatusMessage latest;
    private boolean done;
    private R result;

    RemoteJob(HttpTransport transport, StatusMessage received, Shipment shipment, Consumer<StatusMessage> display,
            long maxResultBytes) {
        this.transport = transport;
        this.shipment = shipment;
        this.display = display;
        this.maxResultBytes = maxResultBytes;
        this.latest = received;
        if (received != null) {
            display.accept(received);
        }
    }

    @SuppressWarnings("unchecked")
    static <R> RemoteJob<R> completed(Shipment shipment, byte[] payload) {
        RemoteJob<R> job = new RemoteJob<>(null, null, shipment, StatusLine.disabled(), 0);
        job.result = (R) shipment.result(payload);
        job.done = true;
        return job;
    }

    /** The job's id on the server ({@code null} for a job of {@link Remote#local()}). */
    public String id() {
        return latest == null ? null : latest.id();
    }

    /** Where the job stood when last heard of ({@link #poll()} asks again). */
    public State state() {
        if (done) {
            return State.COMPLETED;
        }
        return latest.status() == JobStatus.LOG ? State.RUNNING : State.valueOf(latest.status().name());
    }

    /**
     * Asks the server where the job stands; returns the result once it is there.
     *
     * @throws RemoteException when the job failed
     */
    public Optional<R> poll() {
        if (!done) {
            update(transport.poll(latest.id()));
        }
        return done ? Optional.ofNullable(result) : Optional.empty();
    }

    /**
     * Waits for the job to end, following its progress, and returns its result.
     *
     * @throws RemoteException when the job failed, or the server stopped before it ended
     */
    @SuppressWarnings("unchecked")
    public R await() {
        if (!done) {
            // a small result comes with the final status, a larger one is downloaded
            result = (R) shipment.result(transport.await(latest.id(), display, maxResultBytes));
            done = true;
        }
        return result;
    }

    @SuppressWarnings("unchecked")
    private void update(StatusMessage message) {
        latest = message;
        if (message.status() == JobStatus.ERROR) {
            throw new RemoteException("the job " + message.id() + " failed on the server: " + message.description());
        }
        if (message.status() == JobStatus.COMPLETED) {
            result = (R) shipment.result(transport.download(message.id(), maxResultBytes));
            done = true;
        }
    }
}
