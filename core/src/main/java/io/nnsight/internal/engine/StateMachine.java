package io.nnsight.internal.engine;

import io.nnsight.TraceException;
import io.nnsight.internal.StepLoop;
import java.util.ArrayList;
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
 *       {@linkplain #claim() claims} it on entry; when {@link #label()} is not 0 it restores its locals from
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
 * Called from anywhere else (a thread, a continuation, no trace), a compiled method finds no state machine
 * to claim and runs as it was written. A suspension that reaches {@code suspend} while no suspension point
 * is armed (through code the compiler could not see, such as a user object's {@code toString}) cannot be
 * served; it fails with a {@link TraceException}, and that body's class runs on the fallback engine from
 * then on. The compiler refuses the bodies where it can see such a path.
 */
public final class StateMachine implements Coroutine {
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
    private static final Object[] NO_REFS = {};
    private static final long[] NO_PRIMS = {};

    /** Per thread: [0] the state machine whose body runs now, [1] the one offered to the next compiled entry. */
    private static final ThreadLocal<StateMachine[]> SLOTS = ThreadLocal.withInitial(() -> new StateMachine[2]);

    private final String name;
    private final Class<?> bodyType;
    private final Supplier<Object> body;

    /** The saved reference locals of the suspended method (written and read by the compiled code). */
    public Object[] refs = NO_REFS;

    /** The saved primitive locals, as raw bits (written and read by the compiled code). */
    public long[] prims = NO_PRIMS;

    private int label;
    private final List<Object> replies = new ArrayList<>(2);
    private int replayed;
    private boolean armed;
    private Object signal;
    private boolean suspended;
    private boolean started;
    private boolean done;

    StateMachine(String name, Class<?> bodyType, Supplier<Object> body) {
        this.name = name;
        this.bodyType = bodyType;
        this.body = body;
    }

    // ---- what compiled code calls ----

    /**
     * At the entry of a compiled method: the state machine offered by {@link #resume} to the first compiled
     * method it reaches, or {@code null} when none is (the method then runs as written).
     */
    public static StateMachine claim() {
        StateMachine[] slots = SLOTS.get();
        StateMachine offered = slots[1];
        slots[1] = null;
        return offered;
    }

    /** After creating a lambda the agent compiled: marks its class, so the engine runs it as a state machine. */
    public static void compiled(Object body) {
        StateMachineEngine.markCompiled(body.getClass());
    }

    /** The suspension point to resume at: 0 when the body starts. */
    public int label() {
        return label;
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

    /** Before the compiled method saves its locals: makes room for them. */
    public void save(int refCount, int primCount) {
        if (refs.length < refCount) {
            refs = new Object[refCount];
        }
        if (prims.length < primCount) {
            prims = new long[primCount];
        }
    }

    /** The compiled method has saved its locals at suspension point {@code label} and returns. */
    public void suspendedAt(int label) {
        this.label = label;
        this.suspended = true;
    }

    // ---- the coroutine ----

    @Override
    public Object resume(Object reply) {
        if (done) {
            throw new IllegalStateException("the body has already ended");
        }
        if (started) {
            replies.add(reply);
        }
        started = true;
        StateMachine[] slots = SLOTS.get();
        StateMachine outer = slots[0];
        slots[0] = this;
        slots[1] = this;
        Object result;
        try {
            result = body.get();
        } finally {
            slots[0] = outer;
            slots[1] = null;
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
        return result;
    }

    @Override
    public Object suspend(Object signal) {
        if (replayed < replies.size()) {
            return replies.get(replayed++);
        }
        if (!armed) {
            StateMachineEngine.refuse(bodyType);
            throw new TraceException("this request suspends the intervention where its compiled state machine cannot ("
                    + name + ", " + bodyType.getName() + "): through code the nnsight agent did not compile. From the "
                    + "next trace on, this body runs on " + StateMachineEngine.fallback().name() + "; or run every "
                    + "body there with -Dnnsight.engine=continuations");
        }
        armed = false;
        this.signal = signal;
        throw SUSPENSION;
    }

    @Override
    public boolean isDone() {
        return done;
    }

    @Override
    public boolean isCurrent() {
        return SLOTS.get()[0] == this;
    }

    @Override
    public void close() {
        // Nothing to release: the body's state lives in this object.
    }

    @Override
    public String toString() {
        return name + " (state machine at " + label + ")";
    }
}
