package io.nnsight.spi.statemachine;

import io.nnsight.TraceException;
import io.nnsight.internal.StepLoop;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * One body that the nnsight agent compiled into a resumable method, run as a coroutine on the model's
 * thread with no thread and no JDK continuation: a suspension is a plain {@code return}, a resumption a
 * plain call. The compiled method and this class cooperate as follows (the agent's {@code
 * StateMachineCompiler} writes the method's side):
 *
 * <ol>
 *   <li>{@link #resume} offers this state machine to the thread and calls the body. The compiled method
 *       {@linkplain #claim(int) claims} it on entry; when {@link #label()} is not 0 it restores its locals from
 *       {@link #refs} and {@link #prims} and jumps to suspension point {@code label}.
 *   <li>At a suspension point (a call of {@code output()}, {@code inputs()}, {@code setOutput(...)}, {@code
 *       barrier.await()}, a {@code tr.iter} loop's {@code hasNext()}...) the method {@linkplain #enter()
 *       arms} the state machine and makes the call as usual. Deep inside, nnsight's request reaches {@link
 *       #suspend}, which records the request's signal and throws {@link Suspension}; the method catches it
 *       right at the call, saves its locals here, and returns.
 *   <li>The next {@code resume(reply)} calls the body again; the method restores its locals and makes the
 *       same call again. This time {@code suspend} returns the reply at once, so the request does exactly
 *       what it does on the other engines: the same checks, errors and results, thrown and returned at the
 *       user's line. A call that suspends several times ({@code setInput} reads, then replaces) replays the
 *       earlier replies in order.
 * </ol>
 *
 * A body may suspend inside methods it calls that the agent compiled too, of its class or others, recursive
 * ones included (chained frames). At a call of such a helper the caller {@linkplain #offer(int) offers} it the
 * state machine, which the helper claims on entry. When the helper suspends, it saves its locals as a frame
 * and returns; the caller sees {@link #suspending()}, saves its own frame and returns in turn, up to the
 * body. Frames are kept as a stack: the innermost is saved first, so on resumption the body {@linkplain
 * #label() pops} its frame first, restores its locals and calls the helper again, which pops the next one,
 * down to the call that suspended.
 *
 * Called from anywhere else (a thread, a continuation, no trace), a compiled method finds no state machine
 * to claim and runs as it was written. A suspension that reaches {@code suspend} while no suspension point
 * is armed (through code the compiler could not see, such as a user object's {@code toString}) cannot be
 * served; it fails with a {@link TraceException}, and that body's class runs on the fallback engine from
 * then on. The compiler refuses the bodies where it can see such a path.
 *
 * <p>For the engine and compiled code only, not for users. Its public members are of two kinds: what compiled
 * code calls, an ABI whose names and descriptors the compiler writes into class files (so a change here is a
 * change of {@code MethodRewrite} and {@code StateMachineCompiler} too); and what nnsight's state-machine
 * engine calls to make and drive one ({@linkplain #StateMachine the constructor}, {@link #resume}, {@link
 * #suspend}, {@link #isDone}, {@link #isCurrent}, {@link #compiles}).
 */
public final class StateMachine {
    /**
     * Unwinds a compiled body from a suspension point to the compiled method, which catches it at the call.
     * It carries nothing and has no stack trace: one instance serves all.
     */
    public static final class Suspension extends Error {
        private static final long serialVersionUID = 1L;

        private Suspension() {
            super("an intervention body suspended", null, false, false);
        }
    }

    private static final Suspension SUSPENSION = new Suspension();
    private static final int COMPILED = 1;
    private static final int REFUSED = 2;
    /** Per body class: 0, or {@link #COMPILED} once compiled code marked it, {@link #REFUSED} once a body failed. */
    private static final ClassValue<int[]> STATES = new ClassValue<>() {
        @Override
        protected int[] computeValue(Class<?> type) {
            return new int[1];
        }
    };
    private static final Object[] NO_REFS = {};
    private static final long[] NO_PRIMS = {};

    /**
     * The callee of the offer {@link #resume} makes: whichever compiled method is entered first, the body (only
     * nnsight's own code runs between the two).
     */
    public static final int ANY_METHOD = 0;

    /** Per thread: the state machine whose body runs now, and the one offered to a compiled method. */
    private static final class Slots {
        StateMachine running;
        StateMachine offered;
        int callee;
    }

    private static final ThreadLocal<Slots> SLOTS = ThreadLocal.withInitial(Slots::new);

    private final String name;
    private final Class<?> bodyType;
    private final Supplier<Object> body;
    private final String fallback;

    /** The saved reference locals of the frame being saved or restored (written and read by the compiled code). */
    public Object[] refs = NO_REFS;

    /** The saved primitive locals of that frame, as raw bits (written and read by the compiled code). */
    public long[] prims = NO_PRIMS;

    /** The saved frames, innermost first: labels and locals (the arrays are reused from one suspension to the next). */
    private int[] labels = new int[1];
    private Object[][] frameRefs = {NO_REFS};
    private long[][] framePrims = {NO_PRIMS};
    private int depth;
    private final List<Object> replies = new ArrayList<>(2);
    private int replayed;
    private boolean armed;
    private Object signal;
    private boolean suspended;
    private boolean started;
    private boolean done;

    /**
     * For the engine: a state machine that runs {@code body} when first {@linkplain #resume resumed}.
     *
     * @param name names the body in messages
     * @param bodyType the class of the user's body, which the agent compiled ({@link #compiles})
     * @param body calls the compiled body; its return value is what the last {@code resume} returns
     * @param fallback the name of the engine that runs bodies of {@code bodyType} once one of them could not be
     *     served ({@link #suspend}), for the error that says so
     */
    public StateMachine(String name, Class<?> bodyType, Supplier<Object> body, String fallback) {
        this.name = name;
        this.bodyType = bodyType;
        this.body = body;
        this.fallback = fallback;
    }

    // ---- what compiled code calls ----

    /**
     * The number by which compiled method {@code name}{@code descriptor} of class {@code owner} (internal name)
     * claims an offer, and its callers offer to it: a hash of the three, never {@link #ANY_METHOD}. The agent
     * computes it when it compiles callers and callee alike.
     */
    public static int methodKey(String owner, String name, String descriptor) {
        int key = (owner + '.' + name + descriptor).hashCode();
        return key == ANY_METHOD ? 1 : key;
    }

    /**
     * At the entry of compiled method {@code method} ({@link #methodKey}): the state machine offered to it (by
     * {@link #resume} to the body, or by a compiled caller to this method), or {@code null} when none is (the
     * method then runs as written). An offer made to another method is left alone: a compiled method called
     * from code that was not compiled (a callee the agent did not compile after all, a static initializer that
     * runs before the callee) never takes it.
     */
    public static StateMachine claim(int method) {
        Slots slots = SLOTS.get();
        StateMachine offered = slots.offered;
        if (offered == null || slots.callee != method && slots.callee != ANY_METHOD) {
            return null;
        }
        slots.offered = null;
        return offered;
    }

    /** After creating a lambda the agent compiled: marks its class, so the engine runs it as a state machine. */
    public static void compiled(Object body) {
        int[] state = STATES.get(body.getClass());
        if (state[0] == 0) {
            state[0] = COMPILED;
        }
    }

    /**
     * At the entry of a compiled method that claimed this state machine: the suspension point to resume at, 0
     * when the method starts. It takes the method's frame off the stack: its locals are then in {@link #refs}
     * and {@link #prims}.
     */
    public int label() {
        if (depth == 0) {
            return 0;
        }
        depth--;
        refs = frameRefs[depth];
        prims = framePrims[depth];
        return labels[depth];
    }

    /**
     * Before a call of a compiled helper method: offers this state machine to it ({@code callee}, its {@link
     * #methodKey}), which claims it on entry.
     */
    public void offer(int callee) {
        Slots slots = SLOTS.get();
        slots.offered = this;
        slots.callee = callee;
    }

    /** A call of a compiled helper method threw: withdraws the offer, in case the helper was never entered. */
    public void withdraw() {
        Slots slots = SLOTS.get();
        if (slots.offered == this) {
            slots.offered = null;
        }
    }

    /**
     * After a call of a compiled helper method returned: whether it suspended (its caller then saves and
     * returns). An offer the callee did not claim (it was not compiled after all) is withdrawn, so that no
     * later method claims it.
     */
    public boolean suspending() {
        if (!suspended) {
            withdraw();
        }
        return suspended;
    }

    /** A suspension point is reached: its call may suspend once (the replies of the previous point are done). */
    public void enter() {
        replies.clear();
        replayed = 0;
        armed = true;
    }

    /**
     * A suspension point that is an iterator's {@code hasNext()} or {@code next()}: armed only for a {@code
     * tr.iter} loop's iterator, whose requests can be replayed; another iterator runs as written.
     */
    public void enterIterator(Object iterator) {
        replies.clear();
        replayed = 0;
        armed = iterator instanceof StepLoop;
    }

    /** The call of a suspension point is made again after a resumption: its replies replay from the first. */
    public void reenter() {
        replayed = 0;
        armed = true;
    }

    /** The call of a suspension point has returned or thrown. */
    public void exit() {
        armed = false;
    }

    /** Before the compiled method saves its locals: makes room for them in a new frame. */
    public void save(int refCount, int primCount) {
        if (depth == labels.length) {
            labels = Arrays.copyOf(labels, depth * 2);
            frameRefs = Arrays.copyOf(frameRefs, depth * 2);
            framePrims = Arrays.copyOf(framePrims, depth * 2);
        }
        Object[] savedRefs = frameRefs[depth];
        if (savedRefs == null || savedRefs.length < refCount) {
            savedRefs = frameRefs[depth] = new Object[refCount];
        }
        long[] savedPrims = framePrims[depth];
        if (savedPrims == null || savedPrims.length < primCount) {
            savedPrims = framePrims[depth] = new long[primCount];
        }
        refs = savedRefs;
        prims = savedPrims;
    }

    /** The compiled method has saved its locals at suspension point {@code label} and returns. */
    public void suspendedAt(int label) {
        labels[depth++] = label;
        this.suspended = true;
    }

    // ---- what the engine calls ----

    /**
     * For the engine: whether bodies of {@code bodyType} run as state machines, that is, compiled code marked
     * the class ({@link #compiled}) and no body of it has failed to suspend since ({@link #suspend}).
     */
    public static boolean compiles(Class<?> bodyType) {
        return STATES.get(bodyType)[0] == COMPILED;
    }

    /**
     * For the engine, on the model's side: hands {@code reply} to the body (the return value of its pending
     * {@link #suspend}; ignored on the first call, which starts the body) and calls the body until it suspends
     * again or ends.
     *
     * @return the signal the body suspended with, or the body's return value when it ended
     */
    public Object resume(Object reply) {
        if (done) {
            throw new IllegalStateException("the body has already ended");
        }
        if (started) {
            replies.add(reply);
        }
        started = true;
        Slots slots = SLOTS.get();
        StateMachine outer = slots.running;
        slots.running = this;
        slots.offered = this;
        slots.callee = ANY_METHOD;
        Object result;
        try {
            result = body.get();
        } finally {
            slots.running = outer;
            slots.offered = null;
        }
        if (suspended) {
            suspended = false;
            Object pending = signal;
            signal = null;
            return pending;
        }
        done = true;
        refs = NO_REFS;
        prims = NO_PRIMS;
        frameRefs = null;
        framePrims = null;
        return result;
    }

    /**
     * For the engine, on the body's side (nnsight's request, deep inside a suspension point's call): the reply
     * to replay when the call is made again after a resumption; else records {@code signal} for {@link #resume}
     * to return and unwinds to the compiled method with {@link Suspension}. A request that reaches here while
     * no suspension point is armed cannot be served: it fails, and bodies of its class run on the fallback
     * engine from then on.
     */
    public Object suspend(Object signal) {
        if (replayed < replies.size()) {
            return replies.get(replayed++);
        }
        if (!armed) {
            STATES.get(bodyType)[0] = REFUSED;
            throw new TraceException("this request suspends the intervention where its compiled state machine cannot ("
                    + name + ", " + bodyType.getName() + "): through code the nnsight agent did not compile. From the "
                    + "next trace on, this body runs on " + fallback + "; or run every "
                    + "body there with -Dnnsight.engine=continuations");
        }
        armed = false;
        this.signal = signal;
        throw SUSPENSION;
    }

    /** For the engine: whether the body has returned. */
    public boolean isDone() {
        return done;
    }

    /** For the engine: whether the caller is running inside this state machine's body. */
    public boolean isCurrent() {
        return SLOTS.get().running == this;
    }

    @Override
    public String toString() {
        return name + " (state machine at " + (depth == 0 ? 0 : labels[depth - 1]) + ")";
    }
}
