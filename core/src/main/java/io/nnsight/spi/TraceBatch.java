package io.nnsight.spi;

import io.nnsight.Batchable;
import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.internal.Cohort;
import io.nnsight.internal.CohortBatches;
import io.nnsight.internal.TraceTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs several independent traces of one model in one forward pass, each as if it ran alone: what a model
 * server uses to serve many users' small traces at the cost of one batched call.
 *
 * <p>Each {@link Member} is a trace job of the hosted wrapper (or of a copy of it made with {@code edit} or
 * {@code on}, whose edits it keeps) and becomes a <em>cohort</em> of one trace: its rows are contiguous in the
 * batch, in member order, and its invokes, with or without input, and its edits see only its rows. What each
 * member gets back is an {@link Outcome}:
 *
 * <ul>
 *   <li>{@link Result}: what its trace body returned, equal to what the same job returns alone, up to float
 *       rounding (a batched matrix product may sum in another order: on stories260K, logits within ~1.3e-5).
 *   <li>{@link Failed}: the error the job throws alone. One member's failure (its body throws, a request it makes
 *       is out of order) ends that member only; the forward pass goes on for the others. Only a failure of the
 *       forward pass itself, such as the model throwing, fails every member still running.
 *   <li>{@link Evicted}: the member did something that would change the others' computation, so it was stopped
 *       at that call, before the call had any effect: {@code skip}, {@code tr.backward}, waiting for a {@link
 *       BatchSensitive} module, an input that carries options, or rows the model's {@link
 *       io.nnsight.Batchable#cohortKey} does not let share the batch. Run it again alone to get its result.
 * </ul>
 *
 * <p>A member whose body calls {@code tr.stop()} is not evicted: its trace ends there as it does alone (a {@link
 * Result}, or the {@code NotReachedException} of a value asked for after the stop, its caches holding what they
 * recorded before it), its rows are computed and ignored, and the forward pass goes on for the others. A pass whose
 * members have all stopped or ended ends early; one whose members all stop before it starts does not run the model.
 *
 * <pre>{@code
 * List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, List.of(
 *         new TraceBatch.Member(new TraceJob<>(lm, "Once upon", tr -> lm.get("lm_head").output()), BodyContext.NONE),
 *         new TraceBatch.Member(new TraceJob<>(lm, "The cat", tr -> lm.get("lm_head").output()), BodyContext.NONE)));
 * if (outcomes.get(0) instanceof TraceBatch.Result result) { Tensor logits = (Tensor) result.value(); }
 * }</pre>
 *
 * <p>Each member's {@link BodyContext} is entered around every piece of its code that runs (its set-up body, and
 * each resumption of its invokes' bodies), on every engine, so per-job state such as a deadline or an output
 * stream can follow the job. Members are set up one after another on the calling thread, in their context; body
 * threads are created outside every member's context.
 *
 * <p>Traces whose rows may share a forward pass have equal {@linkplain Shape#key() keys}: for a language model,
 * the same padded length, so that each member's tensors have the shape they have alone. A caller with many
 * traces of plain inputs {@linkplain #prepare prepares} each one's input first, learning its shape, and runs one
 * batch per key, each member given its prepared input; a member whose key differs from the first member's is
 * evicted (what happens to a trace whose set-up body adds the invokes, whose key is known only once it ran).
 *
 * <p>Like a trace, the batch holds the wrapper's lock while it runs; the values each {@link Result} holds (and
 * what its bodies {@code save}) outlive it, the rest of its native memory is freed.
 */
public final class TraceBatch {
    private TraceBatch() {}

    /**
     * One trace of the batch.
     *
     * @param job the trace: its model must be the hosted wrapper or a copy of it
     * @param context put in force around every piece of the job's code that runs ({@link BodyContext#NONE}: none)
     * @param input the job's input as {@link #prepare} prepared it for the hosted wrapper, which the batch uses
     *     instead of preparing it again; {@code null}: the batch prepares it
     */
    public record Member(TraceJob<?> job, BodyContext context, PreparedInput input) {
        /**
         * Checks the arguments.
         *
         * @throws IllegalArgumentException when {@code input} was prepared from another input than the job's
         */
        public Member {
            Objects.requireNonNull(job, "job");
            Objects.requireNonNull(context, "context");
            PreparedInput.checkFrom(input, job);
        }

        /** A member whose input the batch prepares. */
        public Member(TraceJob<?> job, BodyContext context) {
            this(job, context, null);
        }
    }

    /** What became of one member: a {@link Result}, a {@link Failed} or an {@link Evicted}. */
    public sealed interface Outcome permits Result, Failed, Evicted {}

    /**
     * The member's trace returned.
     *
     * @param value what its trace body returned
     * @param shape what its invokes took of the forward pass: their key, rows and tokens (for a trace whose body
     *     set up its invokes, known only once it had)
     */
    public record Result(Object value, Shape shape) implements Outcome {}

    /**
     * The member's trace failed, alone.
     *
     * @param error what it would have thrown alone
     */
    public record Failed(Throwable error) implements Outcome {}

    /**
     * The member was stopped before it could change the others' computation; run it alone for its result.
     *
     * @param why what it did, in words
     */
    public record Evicted(String why) implements Outcome {}

    /**
     * What a trace of a plain input is in a batch, known without running it: which traces it may share a forward
     * pass with, and how much of the pass it takes.
     *
     * @param key equal for traces whose rows may share a forward pass ({@link io.nnsight.Batchable#cohortKey}: a
     *     language model's padded length and whether any row is padded); {@code null} when the trace must run
     *     alone (the model does not let rows share, or the input has no rows: it carries options)
     * @param rows how many batch rows it adds
     * @param tokens its rows times their {@linkplain io.nnsight.Batchable#paddedLength padded length}: what it adds
     *     to a forward pass's tokens
     */
    public record Shape(Object key, int rows, long tokens) {}

    /**
     * The most one forward pass holds, in batch rows and tokens (the sum over its rows of their {@linkplain
     * io.nnsight.Batchable#paddedLength padded length}). A member whose rows would take the pass past it is
     * {@link Evicted} before the pass, except the first member that runs: a trace over the budget on its own still
     * runs. A caller that knows each member's {@linkplain PreparedInput#shape() shape} fills passes within the
     * budget itself; the budget bounds the traces whose body sets up their invokes, whose rows are known only once
     * it has run.
     *
     * @param rows the most batch rows, at least 1
     * @param tokens the most tokens, at least 1
     */
    public record Budget(int rows, long tokens) {
        /** No bound. */
        public static final Budget UNLIMITED = new Budget(Integer.MAX_VALUE, Long.MAX_VALUE);

        /** Checks that both bounds are positive. */
        public Budget {
            if (rows <= 0 || tokens <= 0) {
                throw new IllegalArgumentException("a forward pass must hold at least one row and one token, got "
                        + rows + " rows and " + tokens + " tokens");
            }
        }
    }

    /**
     * A trace's input prepared for batches of one hosted wrapper ({@link TraceBatch#prepare}): its {@link #shape()}
     * in a batch, and the forward arguments a {@link Member} given it uses, so that the input is prepared once (a
     * prompt tokenized once) for both.
     *
     * <p>Its tensors belong to the {@code PointerScope} that was open when it was prepared (without one, to the
     * garbage collector): keep that scope open until the batch that uses it has run. A trace body may change its
     * model's input in place, so one batch at most uses a prepared input; another throws.
     */
    public static final class PreparedInput {
        /** The trace target of the wrapper it was prepared for. */
        private final TraceTarget target;
        private final Object input;
        private final Batchable.Prepared prepared;
        private final Shape shape;
        private final AtomicBoolean used = new AtomicBoolean();

        private PreparedInput(TraceTarget target, Object input, Batchable.Prepared prepared, Shape shape) {
            this.target = target;
            this.input = input;
            this.prepared = prepared;
            this.shape = shape;
        }

        /** The input it was prepared from, as passed to {@link TraceBatch#prepare}. */
        public Object input() {
            return input;
        }

        /** The forward arguments and batch rows the model's {@link Batchable} prepared from the input. */
        public Batchable.Prepared prepared() {
            return prepared;
        }

        /** Its key, rows and tokens in a batch: what to group traces by before running them together. */
        public Shape shape() {
            return shape;
        }

        /** Checks that {@code input}, if given, was prepared from {@code job}'s input, as a batch's member needs. */
        static void checkFrom(PreparedInput input, TraceJob<?> job) {
            if (input != null && input.input != job.input()) {
                throw new IllegalArgumentException("the prepared input of a member must be prepared from its job's "
                        + "input (TraceBatch.prepare(hosted, job.input())), not from another");
            }
        }

        /** Checks that it was prepared for {@code target}, {@code hosted}'s; {@code which} names its member. */
        void checkFor(TraceTarget target, NNsight hosted, String which) {
            if (this.target != target) {
                throw new IllegalArgumentException("the input of " + which + " was prepared for another model than "
                        + "the hosted " + hosted.key() + ": prepare it with TraceBatch.prepare(hosted, input)");
            }
        }

        /** Marks it used by a run, which may change it; {@code which} names its member. */
        void claim(String which) {
            if (!used.compareAndSet(false, true)) {
                throw new IllegalStateException("the prepared input of " + which + " was used by a batch already, "
                        + "which may have changed it: prepare the input again for this batch");
            }
        }
    }

    /**
     * Prepares the input of a trace of {@code hosted} (or of a copy of it) as the trace prepares it (a prompt is
     * tokenized), and tells its shape in a batch; the model does not run and no lock is taken. Group traces by
     * {@link Shape#key()} and give each {@link Member} its prepared input, which the batch then uses:
     *
     * <pre>{@code
     * Map<Object, List<TraceBatch.Member>> byKey = new LinkedHashMap<>();
     * for (TraceJob<?> job : jobs) {
     *     TraceBatch.PreparedInput input = TraceBatch.prepare(lm, job.input());
     *     byKey.computeIfAbsent(input.shape().key(), k -> new ArrayList<>())
     *             .add(new TraceBatch.Member(job, BodyContext.NONE, input));
     * }
     * }</pre>
     *
     * @param hosted the model the trace runs on
     * @param input the trace's input, as passed to {@code trace(input, body)}
     * @return the prepared input, with its key, rows and tokens
     * @throws IllegalArgumentException when the model cannot take {@code input} (the trace alone fails the same way)
     */
    public static PreparedInput prepare(NNsight hosted, Object input) {
        Objects.requireNonNull(hosted, "hosted");
        Objects.requireNonNull(input, "input");
        TraceTarget target = CohortBatches.cohorts().target(hosted);
        Batchable.Prepared prepared = CohortBatches.prepare(target, input);
        return new PreparedInput(target, input, prepared, CohortBatches.shape(target, prepared));
    }

    /**
     * Runs {@code members} as one trace of {@code hosted}'s model, on the calling thread, with no bound on the
     * forward pass: {@link #run(NNsight, List, Budget)} with {@link Budget#UNLIMITED}.
     */
    public static List<Outcome> run(NNsight hosted, List<Member> members) {
        return run(hosted, members, Budget.UNLIMITED);
    }

    /**
     * Runs {@code members} as one trace of {@code hosted}'s model, on the calling thread, in a forward pass of at
     * most {@code budget}.
     *
     * @return each member's outcome, in the order of {@code members}
     * @throws IllegalArgumentException when a member's job traces another model, or its input was prepared for
     *     another model
     * @throws IllegalStateException when a member's prepared input was used by a batch already
     * @throws io.nnsight.TraceException when the calling thread runs a trace of the same model already
     */
    public static List<Outcome> run(NNsight hosted, List<Member> members, Budget budget) {
        Objects.requireNonNull(hosted, "hosted");
        Objects.requireNonNull(budget, "budget");
        TraceTarget target = CohortBatches.cohorts().target(hosted);
        for (int i = 0; i < members.size(); i++) {
            PreparedInput input = members.get(i).input();
            if (input != null) {
                input.checkFor(target, hosted, "member " + i);
            }
        }
        for (int i = 0; i < members.size(); i++) {
            PreparedInput input = members.get(i).input();
            if (input != null) {
                input.claim("member " + i);
            }
        }
        List<Cohort> cohorts = CohortBatches.runner().run(hosted, members, budget);
        List<Outcome> outcomes = new ArrayList<>(cohorts.size());
        for (Cohort cohort : cohorts) {
            outcomes.add(outcome(cohort));
        }
        return outcomes;
    }

    /** The outcome {@code cohort} holds once it has ended. */
    static Outcome outcome(Cohort cohort) {
        if (cohort.evicted() != null) {
            return new Evicted(cohort.evicted());
        }
        return cohort.failure() != null ? new Failed(cohort.failure()) : new Result(cohort.result(), cohort.shape());
    }
}
