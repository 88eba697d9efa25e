package io.nnsight;

import io.nnsight.internal.BarrierState;
import io.nnsight.internal.Mediator;
import io.nnsight.internal.StepLoop;
import io.nnsight.internal.TraceRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Tensor;

/**
 * What a trace body controls besides reading and writing modules: the trace's invokes, barriers between
 * them, iteration over repeated calls, and stopping the run.
 *
 * <p>A trace given an input runs its body as its one invoke. A trace given no input runs its body first,
 * before the model, to set up invokes; each {@linkplain #invoke(Object, Supplier) invoke} adds its input's
 * rows to one batched forward pass and its body runs on those rows only:
 *
 * <pre>{@code
 * List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
 *         tr.invoke(a, () -> model.get("head").output()),
 *         tr.invoke(b, () -> model.get("head").output())));
 * Tensor headOfB = outputs.get(1).get();
 * }</pre>
 */
public final class Tracer {
    private final TraceRun run;
    private final NNsight model;

    Tracer(TraceRun run, NNsight model) {
        this.run = run;
        this.model = model;
    }

    /**
     * Adds an invoke: {@code input}'s batch rows join the forward pass, and {@code body} runs interleaved
     * with it, seeing only those rows. Call it in the body of a trace that was given no input.
     *
     * @return the invoke's handle; its result is readable once the trace has returned
     */
    public <R> Invoke<R> invoke(Object input, Supplier<R> body) {
        Objects.requireNonNull(input, "input: for an invoke that sees the whole batch, call invoke(body)");
        return add(input, body, body);
    }

    /** Adds an invoke whose body returns nothing; see {@link #invoke(Object, Supplier)}. */
    public Invoke<Void> invoke(Object input, Runnable body) {
        Objects.requireNonNull(input, "input: for an invoke that sees the whole batch, call invoke(body)");
        return add(input, body, returningNull(body));
    }

    /**
     * Adds an invoke without input: its body sees the whole batch of the other invokes. Use it to read
     * modules in another order than an input invoke does, or to change every row at once.
     */
    public <R> Invoke<R> invoke(Supplier<R> body) {
        return add(null, body, body);
    }

    /** Adds an invoke without input whose body returns nothing; see {@link #invoke(Supplier)}. */
    public Invoke<Void> invoke(Runnable body) {
        return add(null, body, returningNull(body));
    }

    /** Adds an invoke running {@code body}, known to the engine by the class of the user's {@code code}. */
    private <R> Invoke<R> add(Object input, Object code, Supplier<R> body) {
        Objects.requireNonNull(code, "body");
        return new Invoke<>(run.addInvoke(input, code.getClass(), body));
    }

    private static Supplier<Void> returningNull(Runnable body) {
        return body == null ? null : () -> {
            body.run();
            return null;
        };
    }

    /** A barrier for {@code participants} invokes; see {@link Barrier}. */
    public Barrier barrier(int participants) {
        BarrierState state = new BarrierState(participants);
        return new Barrier(state, run);
    }

    /**
     * Ends the model's forward pass as soon as the calling invoke hands control back: when its body returns
     * or next asks for a value. Modules after that point do not run; values already read or saved are
     * kept. A value asked for after the stop fails with {@link NotReachedException}.
     *
     * <p>When this trace shares its forward pass with others' ({@link io.nnsight.spi.TraceBatch}, a model server
     * batching its users' traces), the stop ends this trace alone, with the outcome it has alone; the pass goes on
     * for the others. In a continuous batch of generations ({@link io.nnsight.spi.ContinuousBatch}), the generation
     * leaves the batch at the next step boundary, with the outcome it has alone.
     */
    public void stop() {
        run.stop();
    }

    /**
     * A loop over iterations, for a plain {@code for} statement: each pass sets the iteration that this
     * invoke's reads and writes address. See {@link Steps}.
     *
     * <pre>{@code
     * for (int step : tr.iter(Steps.range(0, 3))) {
     *     outputs.add(model.get("layer").output());   // the output of call 'step'
     * }
     * }</pre>
     *
     * <p>Leaving the loop with {@code break} keeps the iteration of the step where it broke.
     */
    public Iterable<Integer> iter(Steps steps) {
        Objects.requireNonNull(steps, "steps");
        return () -> new StepLoop(run.requester("tr.iter(" + steps + ")"), steps);
    }

    /** A loop over every iteration the run makes: {@code iter(Steps.all())}. */
    public Iterable<Integer> all() {
        return iter(Steps.all());
    }

    /** Moves this invoke to the next iteration: later reads and writes address the modules' next calls. */
    public void next() {
        Mediator mediator = run.requester("tr.next()");
        mediator.iteration(mediator.iteration() + 1);
    }

    /**
     * Runs a backward pass from {@code metric}, a number this invoke's body computed from the model's values,
     * with {@code body} interleaved: nnsight's {@code with metric.backward():}. Inside {@code body}, {@link
     * Envoy#grad()} waits until backward reaches that module's output and gives its gradient (this invoke's
     * rows), and {@link Envoy#setGrad(Tensor)} replaces it for the rest of the backward pass. Backward produces
     * gradients last module first, so ask for them in that order.
     *
     * <pre>{@code
     * model.trace(x, tr -> {
     *     Tensor hidden = model.get("layers.2").output();            // read in the forward pass
     *     Tensor logits = model.get("head").output();
     *     Tensor metric = logits.select(1, 3).sub(logits.select(1, 5)).sum();
     *     return tr.backward(metric, () -> {
     *         Tensor g = model.get("layers.2").grad();               // waits for backward to reach layers.2
     *         return g.mul(hidden).sum(-1);                          // attribution per position
     *     });
     * });
     * }</pre>
     *
     * <p>The values whose gradients the body asks for must have been read in the forward pass, and autograd must
     * have recorded it (it does unless {@code GradMode} is off around the trace): traces that never call {@code
     * backward} record nothing more than libtorch itself does. Backward computes gradients for those values only:
     * no parameter accumulates a {@code .grad}. Each invoke may run its own backward pass; the graph is kept until
     * the trace ends.
     *
     * @param metric a tensor of one element on the forward pass's autograd graph
     * @return what {@code body} returned
     */
    public <R> R backward(Tensor metric, Supplier<R> body) {
        Objects.requireNonNull(metric, "metric");
        Objects.requireNonNull(body, "body");
        @SuppressWarnings("unchecked")
        R result = (R) run.backward(metric, body.getClass(), body);
        return result;
    }

    /** Runs a backward pass from {@code metric} with {@code body} interleaved; see {@link #backward(Tensor, Supplier)}. */
    public void backward(Tensor metric, Runnable body) {
        Objects.requireNonNull(body, "body");
        backward(metric, returningNull(body));
    }

    /**
     * Records the outputs of the modules at {@code paths} (every traceable module when none is given) for this
     * invoke, each later call of each of them, into a {@link Cache}: nnsight's {@code tracer.cache()}.
     *
     * <pre>{@code
     * Cache cache = model.trace(x, tr -> tr.cache());
     * Tensor hidden = cache.output("layers.3");
     * }</pre>
     *
     * @throws IllegalArgumentException when a path names no traceable module
     */
    public Cache cache(String... paths) {
        return cache(Cache.Include.OUTPUTS, paths);
    }

    /** Records what {@code include} says of the modules at {@code paths}; see {@link #cache(String...)}. */
    public Cache cache(Cache.Include include, String... paths) {
        Objects.requireNonNull(include, "include");
        List<String> modules = new ArrayList<>(paths.length);
        for (String path : paths) {
            try {
                modules.add(model.get(path).path()); // the path of an alias
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tr.cache(...): " + e.getMessage(), e);
            }
        }
        return new Cache(run.cache(modules, include != Cache.Include.OUTPUTS, include != Cache.Include.INPUTS),
                model.aliasedPaths());
    }

    /** The engine that runs the calling invoke's body; see {@link BodyEngine}. */
    public BodyEngine engine() {
        return BodyEngine.named(run.requester("tr.engine()").engine());
    }

    /** The iteration this invoke's reads and writes address now (0 unless moved by a loop or {@link #next()}). */
    public int iteration() {
        return run.requester("tr.iteration()").iteration();
    }
}
