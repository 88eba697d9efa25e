package io.nnsight.spi;

import io.nnsight.Inputs;
import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.internal.Cohort;
import io.nnsight.internal.CohortBatches;
import io.nnsight.internal.ContinuousRun;
import io.nnsight.internal.TraceRun;
import io.nnsight.internal.TraceTarget;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Runs traces that step (a language model's generations) as one continuous batch: a trace <em>joins</em> at the
 * next step boundary and <em>leaves</em> as soon as it is done, its outcome reported right then, while the others go
 * on; each gets what it gets alone. What a model server uses to serve many users' generations at the cost of one
 * batched forward pass per step, without making a short generation wait for a long one.
 *
 * <p>Each {@link Member} is a trace job of the hosted wrapper (or of a copy of it made with {@code edit} or {@code
 * on}, whose edits it keeps) with options its model's {@link Runner} reads (a generation's: how many tokens, which
 * seed), and becomes a <em>cohort</em> of one long-lived trace, as in {@link TraceBatch}. Each forward pass serves the
 * cohorts the runner lays out for it, on contiguous rows in that order; the others are absent from it. A cohort
 * counts only the module calls of the passes it is present in, so its first pass (a generation's prompt) is
 * iteration 0 for it, and {@code tr.all()}, {@code tr.iter} and {@code tr.next()} count its own steps, as alone.
 * Failures and evictions are per member, as in {@link TraceBatch}: the outcome is a {@link TraceBatch.Result}, a
 * {@link TraceBatch.Failed} or a {@link TraceBatch.Evicted} (run it again alone for its result). As in a {@link
 * TraceBatch}, a member whose body calls {@code tr.stop()} is not evicted: its run ends there as it does alone, and
 * the runner makes no further call for it ({@link Lane#hasEnded()}). A failure of the forward pass itself (the model
 * throws) ends the run and evicts every member still running: which one's rows made the model fail shows only when
 * each runs alone.
 *
 * <pre>{@code
 * Queue<ContinuousBatch.Member> waiting = ...;   // filled by other threads
 * ContinuousBatch.run(lm, lm.generationRunner(), new ContinuousBatch.Feed() {
 *     public List<ContinuousBatch.Member> admit(int running) {
 *         ContinuousBatch.Member next = waiting.poll();
 *         return next == null ? List.of() : List.of(next);
 *     }
 *     public void finished(ContinuousBatch.Member member, TraceBatch.Outcome outcome) { deliver(member, outcome); }
 * }, 256);
 * }</pre>
 *
 * <p>The run holds the wrapper's lock while it lives, on the calling thread, which also runs the model and every
 * member's set-up (in the member's {@link BodyContext}, entered around every piece of its code, as in {@link
 * TraceBatch}; body threads are created outside every member's context). Native memory is freed when the run ends,
 * so a run is an <em>epoch</em>: it admits members for at most {@code epochSteps} forward passes, then lets the
 * running ones finish and returns. The values each {@link TraceBatch.Result} holds (and what its bodies {@code save})
 * outlive the run; use them in {@link Feed#finished}, or keep them, as they stay valid after it.
 */
public final class ContinuousBatch {
    private ContinuousBatch() {}

    /**
     * One trace of the batch.
     *
     * @param job the trace: its model must be the hosted wrapper or a copy of it
     * @param options what the model's {@link Runner} reads for this trace (a language model: its {@code Generation})
     * @param context put in force around every piece of the job's code that runs ({@link BodyContext#NONE}: none)
     * @param input the job's input as {@link TraceBatch#prepare} prepared it for the hosted wrapper (to learn its
     *     {@linkplain TraceBatch.Shape shape} before it joins, say), which the run uses instead of preparing it again;
     *     {@code null}: the run prepares it
     */
    public record Member(TraceJob<?> job, Object options, BodyContext context, TraceBatch.PreparedInput input) {
        /**
         * Checks the arguments.
         *
         * @throws IllegalArgumentException when {@code input} was prepared from another input than the job's
         */
        public Member {
            Objects.requireNonNull(job, "job");
            Objects.requireNonNull(context, "context");
            TraceBatch.PreparedInput.checkFrom(input, job);
        }

        /** A member whose input the run prepares. */
        public Member(TraceJob<?> job, Object options, BodyContext context) {
            this(job, options, context, null);
        }
    }

    /** Where members come from and where their outcomes go; called on the run's thread, outside members' contexts. */
    public interface Feed {
        /**
         * Called at each step boundary while the epoch admits: the members to join now, oldest first (an empty list
         * when none waits). The run ends once none is running and this gives none.
         *
         * @param running how many members are running now
         */
        List<Member> admit(int running);

        /** Called once per member, as soon as its outcome is final (it may then be encoded and answered). */
        void finished(Member member, TraceBatch.Outcome outcome);

        /**
         * Called after each step, a forward pass of the model: how many members it served, their rows, and the tokens
         * it ran (a member's first pass runs its prompt, its rows times their padded length; each later one a token
         * per row). A pass that serves only members whose steps ended (a language model's generator on their ids) is
         * no step. For statistics; nothing by default.
         */
        default void stepped(int members, int rows, long tokens) {}
    }

    /**
     * The model's side of a continuous batch: its stepping loop (a language model's generation loop), which admits
     * members at step boundaries, lays out each forward pass and ends members through its {@link Control}. Wrappers
     * of models that step provide one (a {@code LanguageModel}'s {@code generationRunner()}).
     */
    @FunctionalInterface
    public interface Runner {
        /** Runs until no member is running and {@link Control#admit()} gives none. */
        void run(Control control);
    }

    /** A member as the runner sees it: its inputs, its options, its rows. */
    public interface Lane {
        /** Its invokes' inputs, batched. */
        Inputs inputs();

        /** Its {@link Member#options()}. */
        Object options();

        /** Its inputs' batching key ({@link io.nnsight.Batchable#cohortKey}): lanes with equal keys may share a pass. */
        Object key();

        /** Its batch rows. */
        int size();

        /**
         * Whether it ended early (its body failed or stopped the trace, or it was evicted): lay it out no more, call
         * the model for it no more, and {@link Control#finish} it.
         */
        boolean hasEnded();
    }

    /** What the runner tells the run; every call on the run's thread, between module calls. */
    public interface Control {
        /**
         * Admits the members the feed gives now (an empty list once the epoch is over): each is set up (its edits, its
         * input prepared or its set-up body run) and its bodies start, until each first waits for the model. Members
         * whose set-up failed are finished already and not returned.
         *
         * @return the lanes that joined, in the feed's order
         */
        List<Lane> admit();

        /**
         * Runs {@code pass}, a forward pass over {@code lanes}' rows, batched in this order, with their bodies
         * interleaved; the other lanes are absent from it.
         *
         * @return what {@code pass} returned
         */
        <T> T forward(List<Lane> lanes, Supplier<T> pass);

        /** Says that the runner starts no further step for {@code lane} ({@code ModelRunner.Control#endSteps}). */
        void endSteps(Lane lane);

        /** Ends {@code lane}: its open requests are answered as at the end of a trace, and its outcome reported. */
        void finish(Lane lane);

        /**
         * Ends {@code lane} with {@code error}, which it would get alone from the runner (an option the model cannot
         * honour, a prompt too long for it): its bodies are cancelled and its outcome reported.
         */
        void fail(Lane lane, Throwable error);
    }

    /**
     * Runs members as they come, on the calling thread, until the epoch is over and none is running.
     *
     * @param hosted the wrapper the members' jobs trace (or copies of it)
     * @param runner the model's stepping loop
     * @param feed gives members and takes their outcomes
     * @param epochSteps how many forward passes the run admits members for, at least 1
     * @throws IllegalArgumentException when {@code epochSteps} is below 1, or a member's input was prepared for
     *     another model (thrown by the run once the feed gives it)
     * @throws IllegalStateException when a member's prepared input was used already (likewise)
     * @throws io.nnsight.TraceException when the calling thread runs a trace of the same model already
     */
    public static void run(NNsight hosted, Runner runner, Feed feed, int epochSteps) {
        Objects.requireNonNull(hosted, "hosted");
        Objects.requireNonNull(runner, "runner");
        Objects.requireNonNull(feed, "feed");
        if (epochSteps < 1) {
            throw new IllegalArgumentException("epochSteps must be at least 1, not " + epochSteps);
        }
        CohortBatches.Cohorts cohorts = CohortBatches.cohorts();
        TraceTarget target = cohorts.target(hosted);
        TraceRun run = new TraceRun(target);
        Map<Cohort, Member> members = new IdentityHashMap<>();
        ContinuousRun.execute(run, runner, new ContinuousRun.Admission() {
            @Override
            public List<Cohort> admit(int running) {
                List<Cohort> admitted = new ArrayList<>();
                for (Member member : feed.admit(running)) {
                    TraceBatch.PreparedInput input = member.input();
                    if (input != null) {
                        input.checkFor(target, hosted, "a member");
                        input.claim("a member");
                    }
                    Cohort cohort = cohorts.cohort(hosted, run, member.job(), member.context(), input,
                            member.options());
                    members.put(cohort, member);
                    admitted.add(cohort);
                }
                return admitted;
            }

            @Override
            public void finished(Cohort cohort) {
                feed.finished(members.remove(cohort), TraceBatch.outcome(cohort));
            }

            @Override
            public void stepped(int cohorts, int rows, long tokens) {
                feed.stepped(cohorts, rows, tokens);
            }
        }, epochSteps);
    }
}
