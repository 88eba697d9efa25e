package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.Inputs;
import io.nnsight.spi.BodyContext;
import io.nnsight.spi.ContinuousBatch;
import io.nnsight.spi.TraceBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * One of several independent traces sharing one {@link TraceRun} and its forward passes (a {@link CohortRun},
 * what {@code spi.TraceBatch} runs, or a {@link ContinuousRun}): its own contiguous batch rows, its own invokes
 * (its edits and invokes without input see only its rows), its own outcome, and its own {@link BodyContext}, in
 * force whenever its code runs.
 *
 * <p>A cohort <em>ends</em> early when one of its bodies throws ({@link #failure()}) or when it is evicted
 * ({@link #evicted()}): it asked for something that would change the other cohorts' computation (skipping a
 * module, a backward pass, a batch-sensitive module). Its other bodies are then cancelled, its caches stop recording,
 * and its rows are computed and ignored; the forward pass goes on for the others.
 *
 * <p>A cohort whose body calls {@code tr.stop()} is not evicted: once that body hands control back, the cohort's run
 * is over as a trace's alone is once stopped (its open requests fail with {@code NotReachedException}, its loops end,
 * its caches stop recording), and it keeps its result; its rows are computed and ignored, and the forward pass goes on
 * for the others. In a {@link ContinuousRun}, the runner then lays it out no more ({@link #hasEnded()}).
 */
public final class Cohort implements ContinuousBatch.Lane {
    /**
     * Thrown in a cohort's body at the call that evicts it, before that call has any effect: an {@code Error}, so
     * the body's {@code catch (Exception e)} blocks let it pass. A body that catches it anyway gets a cancellation
     * at its next request; nothing it does after the eviction reaches the model.
     */
    public static final class Evicted extends Error {
        private static final long serialVersionUID = 1L;

        Evicted(String why) {
            super("this trace was evicted from the forward pass it shared with others: " + why, null, false, false);
        }
    }

    final BodyContext context;
    final Object input;
    /** Its input prepared before the run ({@code TraceBatch.prepare}), which it uses; {@code null}: it prepares it. */
    final Batchable.Prepared prepared;
    final Class<?> bodyType;
    final Supplier<?> body;
    final Runnable addEdits;
    /** What a continuous run's model runner reads for it (a generation's options), or {@code null}. */
    final Object options;

    /** Its mediators, in invoke order (set when the model starts). */
    final List<Mediator> mediators = new ArrayList<>();
    /** The caches its invokes record ({@code tr.cache}). */
    final List<CacheRecording> caches = new ArrayList<>(0);
    /** Its rows, once the model starts; {@code null} before. */
    RowRange rows;
    TraceRun.Invocation implicit;
    int edits;
    int invokes;
    /** Its rows' shape in the batch: key, rows, tokens; set once its inputs are prepared (or given prepared). */
    TraceBatch.Shape shape;

    // ---- in a continuous run (ContinuousRun) ----
    /** Its invokes' inputs, batched. */
    Inputs inputs;
    /** How often each module was called, and returned, in the forward passes it was present in. */
    int[] inputCalls;
    int[] outputCalls;
    /**
     * Whether the runner makes no further step for it, and whether its run is over (in a {@link CohortRun}: it
     * stopped).
     */
    boolean stepsEnded;
    boolean runEnded;
    /** Whether one of its bodies called {@code tr.stop()}. */
    boolean stopRequested;
    /** Whether its outcome has been reported. */
    boolean reported;

    boolean ended;
    private boolean cancelling;
    private Throwable failure;
    private String evicted;
    private Object result;
    private boolean hasResult;

    /**
     * A cohort.
     *
     * @param context put in force around every piece of its code that runs; {@link BodyContext#NONE} for none
     * @param input the trace's input, or {@code null} for a trace whose body sets up invokes
     * @param prepared {@code input} prepared before the run, or {@code null}: the run prepares it
     * @param bodyType the class of the user's trace body, by which the engine remembers what it needs
     * @param body the trace body
     * @param addEdits adds the cohort's edits to the run ({@link TraceRun#addEdit}); runs in its set-up
     * @param options what a continuous run's model runner reads for it (a generation's options), or {@code null}
     */
    public Cohort(BodyContext context, Object input, TraceBatch.PreparedInput prepared, Class<?> bodyType,
            Supplier<?> body, Runnable addEdits, Object options) {
        this.options = options;
        this.context = context;
        this.input = input;
        this.prepared = prepared == null ? null : prepared.prepared();
        this.shape = prepared == null ? null : prepared.shape();
        this.bodyType = bodyType;
        this.body = body;
        this.addEdits = addEdits;
    }

    @Override
    public Inputs inputs() {
        return inputs;
    }

    @Override
    public Object options() {
        return options;
    }

    @Override
    public Object key() {
        return shape.key();
    }

    @Override
    public int size() {
        return shape.rows();
    }

    /** What its invokes take of a forward pass (key, rows, tokens), once prepared; {@code null} before. */
    public TraceBatch.Shape shape() {
        return shape;
    }

    /** Whether it ended early: failed, evicted, or its run ended (it stopped; in a continuous run, or it finished). */
    @Override
    public boolean hasEnded() {
        return ended || runEnded;
    }

    /** The error that failed it, or {@code null}. */
    public Throwable failure() {
        return failure;
    }

    /** Why it was evicted, or {@code null}. */
    public String evicted() {
        return evicted;
    }

    /** Its trace's result: what the trace body returned, once the run has ended without ending this cohort. */
    public Object result() {
        return result;
    }

    /** Whether {@link #result()} is set. */
    public boolean hasResult() {
        return hasResult;
    }

    void fail(Throwable error) {
        if (!ended) {
            ended = true;
            failure = error;
        }
    }

    Evicted evict(String why) {
        if (!ended) {
            ended = true;
            evicted = why;
        }
        return new Evicted(why);
    }

    void succeed(Object value) {
        result = value;
        hasResult = true;
    }

    /** Marks the start of its cancellation; false when it had started already. */
    boolean startCancelling() {
        if (cancelling) {
            return false;
        }
        cancelling = true;
        return true;
    }
}
