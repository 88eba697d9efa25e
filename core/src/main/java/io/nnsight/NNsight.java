package io.nnsight;

import io.nnsight.internal.ForwardMethod;
import io.nnsight.internal.ModuleFields;
import io.nnsight.internal.SessionRun;
import io.nnsight.internal.TensorBatchable;
import io.nnsight.internal.TraceContext;
import io.nnsight.internal.TraceRun;
import io.nnsight.internal.TraceTarget;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.NativeHookPoints;
import io.nnsight.spi.SourceMap;
import io.nnsight.spi.Traceable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
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
 * fails with JavaCPP's "This pointer address is NULL" instead of crashing.
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
 * <p><b>Threads.</b> Traces of one wrapper run one at a time (a second thread waits). Several wrappers on
 * one model are independent; an unreachable wrapper is garbage collected and its hooks removed.
 */
public class NNsight extends Envoy implements Cloneable {
    private final TraceTarget target;
    private final List<String> paths = new ArrayList<>();
    /** The edits every trace runs first, in order; replaced, never changed, so a copy can share the list. */
    private volatile List<TraceBody<?>> edits = List.of();

    /**
     * Wraps a model whose input is a {@code Tensor} (its first dimension is the batch) or an {@link Inputs}
     * of tensors: the trace calls the model's public {@code forward} method that takes those arguments.
     */
    public static NNsight wrap(Module model) {
        return wrap(model, TensorBatchable.INSTANCE);
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
        Map<Module, Integer> indices = new IdentityHashMap<>();
        List<HookPoint> hookPoints = new ArrayList<>();
        List<String> traceablePaths = new ArrayList<>();
        Map<Long, Module> known = new HashMap<>();
        index(model, "", indices, hookPoints, traceablePaths);
        buildTree(this, children(model, known), indices, hookPoints, traceablePaths, known);
        buildTree(this, attachments, indices, hookPoints, traceablePaths, known);
        collectPaths(paths);
        Map<String, Integer>[] operationBases = mapOperations(indices, traceablePaths);
        this.target = new TraceTarget(this, forward, Objects.requireNonNull(batchable, "batchable"), hookPoints,
                traceablePaths.toArray(new String[0]), operationBases);
    }

    private static int index(Module module, String path, Map<Module, Integer> indices, List<HookPoint> hookPoints,
            List<String> traceablePaths) {
        HookPoint hookPoint;
        if (module instanceof Traceable) {
            hookPoint = ((Traceable) module).hookPoint();
        } else if (NativeHookPoints.callSitesEnabled()) {
            hookPoint = NativeHookPoints.of(module);
        } else {
            return -1;
        }
        return indices.computeIfAbsent(module, m -> {
            hookPoints.add(hookPoint);
            traceablePaths.add(path);
            return hookPoints.size() - 1;
        });
    }

    private void buildTree(Envoy envoy, Map<String, ? extends Module> children, Map<Module, Integer> indices,
            List<HookPoint> hookPoints, List<String> traceablePaths, Map<Long, Module> known) {
        for (Map.Entry<String, ? extends Module> child : children.entrySet()) {
            String path = join(envoy.path(), child.getKey());
            Module childModule = child.getValue();
            Envoy childEnvoy = new Envoy(this, path, childModule, index(childModule, path, indices, hookPoints, traceablePaths));
            envoy.addChild(child.getKey(), childEnvoy);
            buildTree(childEnvoy, children(childModule, known), indices, hookPoints, traceablePaths, known);
        }
    }

    /**
     * Numbers the operations inside the code of each traceable module after the modules (their paths are
     * {@code <module>.source.<operation>}), and gives the module's envoys their {@link Source}.
     */
    @SuppressWarnings("unchecked")
    private Map<String, Integer>[] mapOperations(Map<Module, Integer> indices, List<String> traceablePaths) {
        int modules = traceablePaths.size();
        Map<String, Integer>[] bases = new Map[modules];
        Map<Integer, Source> sources = new HashMap<>();
        for (Map.Entry<Module, Integer> entry : indices.entrySet()) {
            int index = entry.getValue();
            String path = traceablePaths.get(index);
            for (Class<?> type = entry.getKey().getClass(); type != null && type != Module.class; type = type.getSuperclass()) {
                List<SourceMap.Site> sites = SourceMap.of(type);
                if (sites.isEmpty()) {
                    continue;
                }
                int first = traceablePaths.size();
                if (bases[index] == null) {
                    bases[index] = new HashMap<>();
                }
                bases[index].put(type.getName(), first);
                for (SourceMap.Site site : sites) {
                    traceablePaths.add(join(path, "source." + site.name()));
                }
                Source source = sources.get(index);
                if (source == null) {
                    sources.put(index, new Source(this, path, type.getName(), sites, first));
                } else {
                    source.add(this, type.getName(), sites, first);
                }
            }
        }
        attachSources(this, sources);
        // Looked up at every operation call inside a traced module: an immutable map of one class (the common
        // case) is a single comparison.
        for (int index = 0; index < modules; index++) {
            if (bases[index] != null) {
                bases[index] = Map.copyOf(bases[index]);
            }
        }
        return bases;
    }

    private static void attachSources(Envoy envoy, Map<Integer, Source> sources) {
        if (envoy.index >= 0 && sources.containsKey(envoy.index)) {
            envoy.source(sources.get(envoy.index));
        }
        for (Envoy child : envoy.children()) {
            attachSources(child, sources);
        }
    }

    /**
     * A module's children: a traceable module lists its own; for a native module (a {@code ModuleListImpl}),
     * libtorch's are matched to the Java objects the modules above it hold in their fields ({@code known}).
     */
    private static Map<String, Module> children(Module module, Map<Long, Module> known) {
        known.putAll(ModuleFields.byAddress(module));
        if (module instanceof Traceable) {
            return ((Traceable) module).namedChildren();
        }
        return ModuleFields.namedChildren(module, known);
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
        return run(input, body);
    }

    /**
     * Runs a trace whose inputs come from invokes: {@code body} runs first, before the model, and calls
     * {@link Tracer#invoke(Object, java.util.function.Supplier) tr.invoke(input, ...)} for each input; then
     * the model runs once on all of them, batched, with the invokes' bodies interleaved.
     *
     * @return what {@code body} returned (typically invoke handles, whose results are readable now)
     */
    public <R> R trace(TraceBody<R> body) {
        return run(null, body);
    }

    private <R> R run(Object input, TraceBody<R> body) {
        return trace(input, body, target.forward());
    }

    /**
     * Runs a trace whose model is run by {@code forward} instead of the wrapper's own forward call: how a
     * generation runs the model once per step inside one trace. Each call of a module is a new iteration.
     *
     * @param input as for {@link #trace(Object, TraceBody)}, or {@code null} for a trace that sets up invokes
     */
    @SuppressWarnings("unchecked")
    protected final <R> R trace(Object input, TraceBody<R> body, Function<Inputs, Object> forward) {
        Objects.requireNonNull(body, "body");
        TraceRun run = new TraceRun(target);
        Tracer tracer = new Tracer(run);
        for (TraceBody<?> edit : edits) {
            run.addEdit(edit.getClass(), () -> {
                edit.run(tracer);
                return null;
            });
        }
        return (R) run.execute(input, body.getClass(), () -> body.run(tracer), forward);
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
     * #edits()}).
     *
     * @param body the edit: reads and writes modules like a trace body, may loop over iterations with {@link
     *     Tracer#iter}, and must not add invokes
     * @return the edited copy
     */
    public NNsight edit(TraceBody<?> body) {
        Objects.requireNonNull(body, "body");
        NNsight copy;
        try {
            copy = (NNsight) clone();
        } catch (CloneNotSupportedException e) {
            throw new AssertionError("NNsight is Cloneable", e);
        }
        copy.edits = appended(edits, body);
        return copy;
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
        edits = appended(edits, Objects.requireNonNull(body, "body"));
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
        edits = List.of();
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
        return edits;
    }

    private static List<TraceBody<?>> appended(List<TraceBody<?>> edits, TraceBody<?> body) {
        List<TraceBody<?>> all = new ArrayList<>(edits);
        all.add(body);
        return Collections.unmodifiableList(all);
    }

    /**
     * Runs a trace on {@code backend} (a model server, with {@code io.nnsight.remote.Remote}) instead of in
     * this JVM: the same body, the same result.
     */
    public <R> R trace(Object input, Backend backend, TraceBody<R> body) {
        Objects.requireNonNull(input, "input: for a trace whose invokes give the inputs, call trace(backend, body)");
        return Objects.requireNonNull(backend, "backend").run(Job.trace(this, input, Objects.requireNonNull(body, "body")));
    }

    /** Runs a trace whose inputs come from invokes on {@code backend}; see {@link #trace(TraceBody)}. */
    public <R> R trace(Backend backend, TraceBody<R> body) {
        return Objects.requireNonNull(backend, "backend").run(Job.trace(this, null, Objects.requireNonNull(body, "body")));
    }

    /**
     * Runs several traces as one unit, and returns the body's result. Each trace inside runs as usual (its
     * result is available to the next one as an ordinary variable); what the session adds is ownership of
     * their native memory, which lasts until the session ends, except for the session's result, and, with
     * a {@link Backend}, one request for all of them: the values never leave the server between traces.
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
        return SessionRun.run(body::run);
    }

    /** Runs a session on {@code backend}: all its traces in one request. */
    public <R> R session(Backend backend, SessionBody<R> body) {
        return Objects.requireNonNull(backend, "backend").run(Job.session(this, Objects.requireNonNull(body, "body")));
    }

    /**
     * Runs {@code job} in this JVM, on this model: what a {@link Backend} that runs here, and a model server,
     * call.
     *
     * @throws IllegalArgumentException when this model cannot run the job's kind (a generation needs a
     *     language model)
     */
    @SuppressWarnings("unchecked")
    public <R> R execute(Job<R> job) {
        switch (job.kind()) {
            case TRACE:
                return job.input() == null
                        ? trace((TraceBody<R>) job.body())
                        : trace(job.input(), (TraceBody<R>) job.body());
            case SESSION:
                return session((SessionBody<R>) job.body());
            default:
                throw new IllegalArgumentException(key() + " cannot run a " + job.kind() + " job; a generation needs a "
                        + "language model");
        }
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
        TraceRun run = TraceContext.current();
        SessionRun session;
        if (run != null) {
            run.save(value);
        } else if ((session = SessionRun.current()) != null) {
            session.save(value);
        } else {
            throw new IllegalStateException("NNsight.save(...) can only be called inside a trace or a session: it "
                    + "keeps a value past the end of the trace that made it, and values made outside traces are not "
                    + "freed by nnsight");
        }
        return value;
    }
}
