package io.nnsight;

import io.nnsight.internal.ForwardMethod;
import io.nnsight.internal.Running;
import io.nnsight.internal.SessionRun;
import io.nnsight.internal.TensorInputs;
import io.nnsight.internal.TraceRun;
import io.nnsight.internal.TraceTarget;
import io.nnsight.spi.ModelRunner;
import io.nnsight.spi.Traceable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.bytedeco.pytorch.Module;

/**
 * A wrapped model: the root {@link Envoy} of its module tree, and the entry point for traces.
 *
 * <pre>{@code
 * NNsight model = NNsight.wrap(new Mlp());
 * Tensor hidden = model.trace(x, tr -> model.get("layers.3").output());
 * }</pre>
 *
 * <p>{@link #trace(Object, TraceBody)} runs the model on an input while the body runs interleaved with
 * it: each read of a module's output suspends the body until the module has run, hands it the live value,
 * and lets the model continue only when the body asks for something later. The body's return value is the
 * trace's result.
 *
 * <p><b>Which modules a trace can see.</b> A module is traceable when its calls pass through a hook point
 * ({@link Traceable}): the building blocks of {@code io.nnsight.nn} and subclasses of {@code HookedModule}
 * are. Native libtorch modules ({@code LinearImpl}...) appear in the tree but cannot be read without the
 * nnsight agent. Outside traces the hooks are idle and the model runs at bare speed.
 *
 * <p><b>Memory.</b> Each trace owns the native memory of the tensors made while it runs and frees it when
 * it ends, except the tensors in its result and those passed to {@link #save}. A freed tensor used later
 * fails instead of crashing: with a {@link FreedTensorException} where it reaches nnsight (a trace's input,
 * {@code setOutput}, {@link Tensors}), with JavaCPP's "This pointer address is NULL" in Bytedeco's own
 * methods (inside a trace body, with a {@code FreedTensorException} as its cause).
 *
 * <p><b>Errors.</b> An exception thrown by intervention code or by the model reaches the caller of {@code
 * trace} with its own type, and with a stack trace that starts at the line that threw it; the tracing
 * engine's frames are hidden unless {@code -Dnnsight.debug=true} (or {@code NNSIGHT_DEBUG=1}). The model
 * and the wrapper stay usable.
 *
 * <p><b>Edits.</b> {@link #edit(TraceBody)} gives a copy of the wrapper whose traces first run an
 * intervention of their own, before the trace's invokes: a model with an ablation or a steering vector
 * built in, nnsight's {@code model.edit()}. {@link #editInPlace} edits this wrapper, {@link #clearEdits}
 * removes its edits.
 *
 * <p><b>Where it runs.</b> {@link #on(Backend)} gives a view of the wrapper whose traces, sessions (and a
 * language model's generations) run on a backend, such as a model server: {@code model.on(server).trace(x,
 * body)} is nnsight's {@code model.trace(x, remote=True)}. Without a backend everything runs here.
 *
 * <p><b>Threads.</b> Traces of one wrapper run one at a time (a second thread waits). Several wrappers on
 * one model are independent; an unreachable wrapper is garbage collected and its hooks removed.
 */
public class NNsight extends Envoy {
    private final TraceTarget target;
    private final ModelRunner runner;
    private final List<String> paths;
    /** The wrapper that runs here: this one, or for a view on a backend, one with the same edits that runs here. */
    private NNsight local;
    /** Where its entry points run: {@code null} for here. */
    private Backend backend;
    /** The edits every trace runs first; replaced, never changed, so a copy can share them. */
    private volatile Edits edits;

    /**
     * Wraps a model whose input is a {@code Tensor} (its first dimension is the batch) or an {@link Inputs}
     * of tensors: the trace calls the model's public {@code forward} method that takes those arguments.
     */
    public static NNsight wrap(Module model) {
        return wrap(model, TensorInputs.INSTANCE);
    }

    /** Wraps a model whose inputs are prepared and batched by {@code batchable}. */
    public static NNsight wrap(Module model, Batchable batchable) {
        Objects.requireNonNull(model, "model");
        return new NNsight(model, batchable, inputs -> ForwardMethod.call(model, inputs), Map.of());
    }

    /**
     * Wraps a model that is run by {@code forward}, for wrappers of particular kinds of models.
     *
     * @param forward runs the model on batched inputs; it must not reference this wrapper, or the wrapper
     *     could never be garbage collected
     * @param attachments traceable modules that are not part of the model but that its runners call (a
     *     language model's {@code generator}); they become children of the root envoy, after the model's own
     */
    protected NNsight(Module model, Batchable batchable, Function<Inputs, Object> forward,
            Map<String, ? extends Module> attachments) {
        // A traceable root is the first module indexed, so its index is 0.
        super(null, "", Objects.requireNonNull(model, "model"), model instanceof Traceable ? 0 : -1);
        LibTorch.initialize();
        Objects.requireNonNull(forward, "forward");
        this.runner = (batched, control) -> forward.apply(batched);
        this.target = EnvoyTree.build(this, model, attachments, Objects.requireNonNull(batchable, "batchable"));
        List<String> all = new ArrayList<>();
        collectPaths(all);
        this.paths = List.copyOf(all);
        this.local = this;
        this.backend = null;
        this.edits = Edits.NONE;
    }

    /**
     * A copy of {@code original} that shares its model, hooks and envoy tree, for {@link #edit} and {@link #on};
     * a subclass that adds state gives it to its copies through a constructor of its own that calls this one,
     * and returns such a copy from {@link #copy}.
     */
    protected NNsight(NNsight original) {
        super(original);
        this.target = original.target;
        this.runner = original.runner;
        this.paths = original.paths;
        this.local = original.local;
        this.backend = original.backend;
        this.edits = original.edits;
    }

    /**
     * A copy of this wrapper of the same class, made with {@link #NNsight(NNsight)}: subclasses return their
     * own ({@code LanguageModel} returns a {@code LanguageModel}).
     */
    protected NNsight copy() {
        return new NNsight(this);
    }

    private NNsight copy(Edits edits, Backend backend) {
        NNsight copy = copy();
        copy.edits = edits;
        copy.backend = backend;
        copy.local = backend == null ? copy : edits == local.edits ? local : copy(edits, null);
        return copy;
    }

    TraceTarget target() {
        return target;
    }

    List<String> allPaths() {
        return paths;
    }

    /**
     * Runs the model on {@code input} with {@code body} interleaved, and returns the body's result.
     *
     * <p>An input with batch rows (a tensor) makes the body the trace's one invoke. An input without rows
     * carries options only: the body then sets up invokes, as in {@link #trace(TraceBody)}.
     *
     * @param input the model's input (for {@link #wrap(Module)}: a {@code Tensor} or an {@link Inputs})
     * @param body the intervention
     * @return what {@code body} returned; tensors in it stay valid after the trace
     */
    public <R> R trace(Object input, TraceBody<R> body) {
        Objects.requireNonNull(input, "input: for a trace whose invokes give the inputs, call trace(body)");
        Objects.requireNonNull(body, "body");
        return backend == null ? trace(input, body, runner) : backend.run(new TraceJob<>(local, input, body));
    }

    /**
     * Runs a trace whose inputs come from invokes: {@code body} runs first, before the model, and calls
     * {@link Tracer#invoke(Object, java.util.function.Supplier) tr.invoke(input, ...)} for each input; then
     * the model runs once on all of them, batched, with the invokes' bodies interleaved.
     *
     * @return what {@code body} returned (typically invoke handles, whose results are readable now)
     */
    public <R> R trace(TraceBody<R> body) {
        Objects.requireNonNull(body, "body");
        return backend == null ? trace(null, body, runner) : backend.run(new TraceJob<>(local, null, body));
    }

    /**
     * Runs a trace whose model is run by {@code runner} instead of the wrapper's own forward call: how a
     * generation runs the model once per step inside one trace. Each call of a module is a new iteration.
     * Runs here whatever the backend: a subclass's entry points that take a runner check {@link #backend()}
     * first.
     *
     * @param input as for {@link #trace(Object, TraceBody)}, or {@code null} for a trace that sets up invokes
     */
    @SuppressWarnings("unchecked")
    protected final <R> R trace(Object input, TraceBody<R> body, ModelRunner runner) {
        Objects.requireNonNull(body, "body");
        TraceRun run = new TraceRun(target);
        Tracer tracer = new Tracer(run);
        edits.addTo(run, tracer);
        return (R) run.execute(input, body.getClass(), () -> body.run(tracer), runner);
    }

    // ---- where it runs ----

    /**
     * A view of this wrapper whose traces, sessions and generations run on {@code backend} instead of in this
     * JVM: the same bodies, the same results. Envoys are shared, so bodies use this wrapper's envoys as usual.
     *
     * <pre>{@code
     * Remote server = Remote.on("http://127.0.0.1:8642").apiKey(key);
     * Tensor logits = lm.on(server).trace("Hello", tr -> lm.get("lm_head").output());
     * }</pre>
     *
     * @return a wrapper of the same class; {@code on(null)}'s is one that runs here
     */
    public NNsight on(Backend backend) {
        return copy(edits, backend);
    }

    /** Where this wrapper's entry points run: {@code null} for here, else the backend of {@link #on(Backend)}. */
    public Backend backend() {
        return backend;
    }

    /**
     * The wrapper that runs here: this one, or for a view made by {@link #on(Backend)}, a wrapper with the same
     * edits that runs in this JVM (what a backend's job runs on).
     */
    public NNsight local() {
        return local;
    }

    // ---- persistent edits ----

    /**
     * A copy of this wrapper whose every trace runs {@code body} first: nnsight's {@code model.edit()}. The
     * edit is an invoke without input, so it sees the whole batch, and at each module it is served before
     * the trace's own invokes, which therefore see what it did. What it returns is discarded. This wrapper
     * is left as it was.
     *
     * <pre>{@code
     * NNsight ablated = model.edit(tr -> model.get("layers.3").output().zero_());
     * Tensor before = model.trace(x, tr -> model.get("head").output());     // the model as it is
     * Tensor after = ablated.trace(x, tr -> model.get("head").output());    // with layers.3 zeroed
     * }</pre>
     *
     * <p>The copy is a shallow one, of the same class (editing a {@code LanguageModel} gives a {@code
     * LanguageModel}, whose generations apply the edit at each step that the edit's {@code tr.all()} loop
     * reaches): it shares the model, its hooks and its envoy tree with this wrapper, so an envoy of either
     * works in the traces of both ({@code model.get("layers.3")} above), and {@link Envoy#root()} of its
     * envoys, and of the copy itself, is the wrapper that built the tree. Since they share the model, traces
     * of the copy and of this wrapper run one at a time, like traces of one wrapper. Edits accumulate: {@code
     * model.edit(a).edit(b)} runs {@code a}, then {@code b}, then the trace's invokes. An error thrown by an
     * edit reaches the caller of {@code trace} like one of the trace's own body.
     *
     * <p>Edits run in this JVM only: a trace of an edited wrapper on a model server is refused (see {@link
     * #edits()}). A {@linkplain #on(Backend) view} keeps the edits of the wrapper it was made from.
     *
     * @param body the edit: reads and writes modules like a trace body, may loop over iterations with {@link
     *     Tracer#iter}, and must not add invokes
     * @return the edited copy
     */
    public NNsight edit(TraceBody<?> body) {
        return copy(edits.plus(Objects.requireNonNull(body, "body")), backend);
    }

    /**
     * Adds {@code body} to the edits of this wrapper itself, so that each of its later traces runs it first:
     * nnsight's {@code model.edit(inplace=True)}. Copies made by {@link #edit} before keep the edits they had.
     *
     * <pre>{@code
     * model.editInPlace(tr -> model.get("layers.3").output().zero_());
     * Tensor ablated = model.trace(x, tr -> model.get("head").output());   // layers.3 zeroed
     * model.clearEdits();
     * }</pre>
     *
     * @see #edit(TraceBody) what an edit may do
     */
    public synchronized void editInPlace(TraceBody<?> body) {
        edits = edits.plus(Objects.requireNonNull(body, "body"));
    }

    /**
     * Removes the edits of this wrapper: its later traces run only their own invokes. Other wrappers, such
     * as copies made by {@link #edit} from this one or the one this was copied from, keep theirs.
     *
     * <pre>{@code
     * NNsight ablated = model.edit(tr -> model.get("layers.3").output().zero_());
     * ablated.clearEdits();   // now traces ablated like model
     * }</pre>
     */
    public synchronized void clearEdits() {
        edits = Edits.NONE;
    }

    /**
     * The edits this wrapper's traces run first, in order (empty for a wrapper that was not edited).
     *
     * <pre>{@code
     * NNsight ablated = model.edit(tr -> model.get("layers.3").output().zero_());
     * ablated.edits().size();   // 1; model.edits() is empty
     * }</pre>
     *
     * <p>Edits do not travel to a model server: a job of a wrapper with edits, or whose values refer to one,
     * is refused when it is shipped. Apply such an intervention in the trace body, or in an invoke without
     * input ({@link Tracer#invoke(java.util.function.Supplier)}) at the start of it, instead.
     */
    public List<TraceBody<?>> edits() {
        return edits.bodies();
    }

    // ---- sessions ----

    /**
     * Runs several traces as one unit, and returns the body's result. Each trace inside runs as usual (its
     * result is available to the next one as an ordinary variable); what the session adds is ownership of
     * their native memory, which lasts until the session ends, except for the session's result, and, with
     * a {@linkplain #on(Backend) backend}, one request for all of them: the values never leave the server between
     * traces.
     *
     * <pre>{@code
     * Tensor patched = model.session(() -> {
     *     Tensor clean = model.trace(a, tr -> model.get("layers.3").output());
     *     return model.trace(b, tr -> {
     *         model.get("layers.3").setOutput(clean);
     *         return model.get("head").output();
     *     });
     * });
     * }</pre>
     */
    public <R> R session(SessionBody<R> body) {
        Objects.requireNonNull(body, "body");
        return backend == null ? SessionRun.run(body::run) : backend.run(new SessionJob<>(local, body));
    }

    /**
     * The name a model server knows this model by: for a {@code LanguageModel}, its hub id or folder name;
     * for a wrapped module, the simple name of its class ({@code "Mlp"}).
     */
    public String key() {
        return module().getClass().getSimpleName();
    }

    /**
     * Keeps {@code value} (and every tensor in it) valid after the trace ends, for values the body does
     * not return: stored in a holder, a field or a list. Returns {@code value}.
     *
     * <pre>{@code
     * List<Tensor> seen = new ArrayList<>();
     * model.trace(x, tr -> {
     *     seen.add(NNsight.save(model.get("layer1").output()));
     *     return null;
     * });
     * }</pre>
     *
     * <p>In a session, a value saved in one of its traces, or by the session's body itself, outlives the
     * session too.
     *
     * @throws IllegalStateException outside traces and sessions, where values are not freed and need no saving
     */
    public static <T> T save(T value) {
        Running.save(value);
        return value;
    }
}
