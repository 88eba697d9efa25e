package io.nnsight;

import io.nnsight.internal.Cohort;
import io.nnsight.internal.CohortBatches;
import io.nnsight.internal.HostedAliases;
import io.nnsight.internal.CohortRun;
import io.nnsight.internal.ForwardMethod;
import io.nnsight.internal.Running;
import io.nnsight.internal.SessionRun;
import io.nnsight.internal.TensorInputs;
import io.nnsight.internal.TraceRun;
import io.nnsight.internal.TraceTarget;
import io.nnsight.spi.BodyContext;
import io.nnsight.spi.EditFiles;
import io.nnsight.spi.ModelRunner;
import io.nnsight.spi.TraceBatch;
import io.nnsight.spi.Traceable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 * removes its edits; {@link #exportEdits} writes them to a file that {@link #importEdits} reads, checked as a
 * model server checks code it is sent.
 *
 * <p><b>Where it runs.</b> {@link #on(Backend)} gives a view of the wrapper whose traces, sessions (and a
 * language model's generations) run on a backend, such as a model server: {@code model.on(server).trace(x,
 * body)} is nnsight's {@code model.trace(x, remote=True)}. Without a backend everything runs here.
 *
 * <p><b>Threads.</b> Traces of one wrapper run one at a time (a second thread waits). Several wrappers on
 * one model are independent; an unreachable wrapper is garbage collected and its hooks removed.
 */
public class NNsight extends Envoy {
    /** libtorch's message for an operation without a meta kernel, naming the operation. */
    private static final Pattern NO_META_KERNEL = Pattern.compile(
            "(aten::[\\w.]+): attempted to run this operator with Meta tensors");

    private final TraceTarget target;
    private final ModelRunner runner;
    private final List<String> paths;
    /** The aliases of module paths ({@link #rename}), shared with copies like the envoy tree. */
    private final Aliases aliases;
    /** {@link #aliasedPaths()} as of {@link Aliases#version()} {@code knownAt}. */
    private volatile Map<String, String> known;
    private volatile int knownAt = -1;
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
        this.aliases = new Aliases();
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
        this.aliases = original.aliases;
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

    /** Every module path, and every aliased path that differs from its module's path: what a path may be. */
    List<String> knownPaths() {
        List<String> all = new ArrayList<>(paths);
        all.addAll(aliasedPaths().keySet());
        return all;
    }

    /** Each aliased path that differs from its module's path, to that path. */
    Map<String, String> aliasedPaths() {
        int version = aliases.version();
        if (knownAt != version) {
            Map<String, String> aliased = new LinkedHashMap<>();
            for (String path : paths) {
                String alias = aliases.aliasedPath(path);
                if (!alias.equals(path)) {
                    aliased.put(alias, path);
                }
            }
            known = Collections.unmodifiableMap(aliased);
            knownAt = version;
        }
        return known;
    }

    Aliases aliases() {
        return aliases;
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
    protected final <R> R trace(Object input, TraceBody<R> body, ModelRunner runner) {
        Objects.requireNonNull(body, "body");
        return run(new TraceRun(target), input, body, runner);
    }

    /**
     * Runs {@code body} as {@code trace(input, body)} would, but on a copy of the model on libtorch's meta device:
     * nothing is computed and no activation memory is allocated, while every module's output has the shape and
     * type it would have. nnsight's {@code model.scan}: for checking shapes, and that a body fits the model,
     * before running it. Setting a value of the wrong shape fails as it would in a trace.
     *
     * <pre>{@code
     * long[] shape = lm.scan("Once upon a time", tr -> Tensors.shape(lm.get("model.layers.3.mlp").output()));
     * }</pre>
     *
     * <p>The tensors the body reads and returns are on the meta device: they have shapes and types but no values.
     * The wrapper's edits run too, so a scan also checks them. Scans run here whatever the backend.
     *
     * @throws UnsupportedOperationException when this wrapper cannot build its model on the meta device (a
     *     {@code LanguageModel} can; a model wrapped with {@link #wrap} cannot), or when the body calls an operation
     *     libtorch cannot compute on the meta device (some, such as {@code flip} or {@code index_select}, have their
     *     meta kernels only in PyTorch's Python); the message names the operation
     */
    public <R> R scan(Object input, TraceBody<R> body) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(body, "body");
        NNsight twin = metaTwin();
        try {
            return twin == this ? run(new TraceRun(target), input, body, runner)
                    : run(new TraceRun(twin.target, target), input, body, twin.runner);
        } catch (RuntimeException e) {
            Matcher missing = NO_META_KERNEL.matcher(String.valueOf(e.getMessage()));
            if (missing.find()) {
                throw new UnsupportedOperationException("cannot scan this: libtorch has no kernel on the meta device for "
                        + missing.group(1) + ", which the body calls on a scanned value (PyTorch registers that kernel in "
                        + "Python, which the JVM does not load); run the body in a trace on a short input instead", e);
            }
            throw e;
        }
    }

    /**
     * A wrapper of a copy of this wrapper's model built on libtorch's meta device (its parameters have shapes but
     * no memory), with the same modules in the same order, or this wrapper when its model is there already: what
     * {@link #scan} runs on. Wrappers that can build their model so override it; this one cannot.
     *
     * @throws UnsupportedOperationException always, here
     */
    protected NNsight metaTwin() {
        throw new UnsupportedOperationException("cannot scan " + key() + ": a scan runs on a copy of the model built "
                + "on the meta device, which a wrapper of a module you built cannot make (a LanguageModel can); run a "
                + "trace on a small input instead");
    }

    static {
        HostedAliases.install(new HostedAliases.Scope() {
            @Override
            public boolean lacksAny(Object hosted, Map<String, List<String>> renames) {
                return ((NNsight) hosted).aliases.lacksAny(renames);
            }

            @Override
            public <T> T during(Object hosted, Map<String, List<String>> renames, Supplier<T> action) {
                NNsight wrapper = (NNsight) hosted;
                return wrapper.aliases.during(wrapper, renames, action);
            }
        });
        CohortBatches.install(NNsight::runCohorts);
        CohortBatches.install(new CohortBatches.Cohorts() {
            @Override
            public TraceTarget target(Object hosted) {
                return ((NNsight) hosted).target;
            }

            @Override
            public Cohort cohort(Object hosted, TraceRun run, Object job, BodyContext context,
                    TraceBatch.PreparedInput prepared, Object options) {
                return cohortOf((NNsight) hosted, run, (TraceJob<?>) job, "a job", context, prepared, options);
            }
        });
    }

    /**
     * The cohort of {@code job} in {@code run}: its tracer, body and edits; see {@code spi.TraceBatch} and
     * {@code spi.ContinuousBatch}.
     *
     * @param label names the job in the error thrown when it traces another model
     * @param prepared its input prepared for {@code hosted} ({@code TraceBatch.prepare}), or {@code null}
     * @param options what a continuous run's model runner reads for it, or {@code null}
     */
    private static Cohort cohortOf(NNsight hosted, TraceRun run, TraceJob<?> job, String label, BodyContext context,
            TraceBatch.PreparedInput prepared, Object options) {
        NNsight model = job.model().local();
        if (model.target != hosted.target) {
            throw new IllegalArgumentException(label + " traces " + job.model().key() + ", not the hosted " + hosted.key()
                    + " (or a copy of it made by edit or on)");
        }
        Tracer tracer = new Tracer(run, model);
        TraceBody<?> body = job.body();
        Edits edits = model.edits;
        return new Cohort(context, job.input(), prepared, body.getClass(), () -> body.run(tracer),
                () -> edits.addTo(run, tracer), options);
    }

    /** Runs {@code members}, traces of {@code hosted} or copies, as cohorts of one trace; see {@code TraceBatch}. */
    private static List<Cohort> runCohorts(Object wrapper, List<TraceBatch.Member> members, TraceBatch.Budget budget) {
        NNsight hosted = (NNsight) wrapper;
        TraceRun run = new TraceRun(hosted.target);
        List<Cohort> cohorts = new ArrayList<>(members.size());
        for (int i = 0; i < members.size(); i++) {
            TraceBatch.Member member = members.get(i);
            cohorts.add(cohortOf(hosted, run, member.job(), "job " + i, member.context(), member.input(), null));
        }
        CohortRun.execute(run, cohorts, hosted.runner, budget);
        return cohorts;
    }

    @SuppressWarnings("unchecked")
    private <R> R run(TraceRun run, Object input, TraceBody<R> body, ModelRunner runner) {
        Tracer tracer = new Tracer(run, this);
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

    // ---- aliases ----

    /**
     * Adds aliases of module paths: nnsight's {@code rename}. Each entry maps a path, relative to any module
     * where it exists, to an alias, one path segment that stands for it there, in {@link #get} and everywhere
     * a path is given (a cache's paths too). Messages then name a module by both: {@code model.layers.3.self_attn
     * (layers.3.attn)}.
     *
     * <pre>{@code
     * gpt2.rename(Map.of("transformer.h", "layers", "transformer.wte", "embed"));
     * gpt2.get("layers.3.mlp");                                  // transformer.h.3.mlp
     * gpt2.trace(prompt, tr -> gpt2.get("embed").output());
     * }</pre>
     *
     * <p>A deep path becomes a child of the module it is under ({@code "model.layers" -> "layers"} at the root),
     * and a path that many modules have gets the alias at each ({@code "self_attn" -> "attn"} at every layer).
     * Leading dots, as nnsight writes paths, are ignored. Aliases belong to the module tree, so every copy of
     * this wrapper ({@link #edit}, {@link #on}) has them; they are only ever added. A language model starts with
     * standard names of its own (see {@code LanguageModel}). A job run on a model server takes this wrapper's aliases
     * along: the server adds them to its model's for the time the job runs, which then runs alone, not in a forward
     * pass shared with other users' jobs.
     *
     * @throws IllegalArgumentException when an alias is not one segment, a path exists nowhere in the tree (with
     *     the close matches), or an alias would hide a module or stand for two modules at one place; then no
     *     alias of {@code renames} is added
     */
    public void rename(Map<String, String> renames) {
        aliases.add(this, Objects.requireNonNull(renames, "renames"));
    }

    /**
     * The aliases added by {@link #rename}: each path, with the aliases that stand for it, in the order they
     * were added.
     */
    public Map<String, List<String>> renames() {
        Map<String, List<String>> renames = new LinkedHashMap<>();
        for (Aliases.Rule rule : aliases.rules()) {
            renames.computeIfAbsent(rule.path(), path -> new ArrayList<>()).add(rule.alias());
        }
        renames.replaceAll((path, names) -> List.copyOf(names));
        return Collections.unmodifiableMap(renames);
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
     * <p>A {@linkplain #on(Backend) view} keeps the edits of the wrapper it was made from, and a model server
     * runs them too: a job of an edited wrapper ships its edits with it, and the server applies them to a copy of
     * the model it hosts for that job alone.
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
     * A copy of this wrapper without edits, on the same backend: it traces the model as loaded. This wrapper
     * keeps its edits.
     *
     * <pre>{@code
     * NNsight ablated = model.edit(tr -> model.get("layers.3").output().zero_());
     * Tensor clean = ablated.withoutEdits().trace(x, tr -> ablated.get("head").output());
     * }</pre>
     */
    public NNsight withoutEdits() {
        return copy(Edits.NONE, backend);
    }

    /**
     * The edits this wrapper's traces run first, in order (empty for a wrapper that was not edited).
     *
     * <pre>{@code
     * NNsight ablated = model.edit(tr -> model.get("layers.3").output().zero_());
     * ablated.edits().size();   // 1; model.edits() is empty
     * }</pre>
     *
     * <p>Edits travel to a model server with a job of the wrapper, or with a job whose values refer to it, and
     * run there as here (except edits {@linkplain #importEdits imported} from a file).
     */
    public List<TraceBody<?>> edits() {
        return edits.bodies();
    }

    /**
     * Writes the edits of this wrapper to {@code file}, replacing it, so that another program can {@linkplain
     * #importEdits import} them: nnsight's {@code model.export_edits()}. The file holds the edits as a model
     * server receives them: the class files of their code (the application's own classes only, sliced to what
     * the edits reach), their captured values and the static fields their code reads, and a SHA-256 hash of
     * its content. Models and envoys are written as references, never weights.
     *
     * <pre>{@code
     * LanguageModel steered = lm.edit(tr -> lm.get("model.layers.3").output().add_(direction));
     * steered.exportEdits(Path.of("steer.nnedits"));
     * // elsewhere
     * LanguageModel again = lm.importEdits(Path.of("steer.nnedits"));
     * }</pre>
     *
     * <p>Needs the model server's sandbox on the class path (module {@code nnsight-remote-sandbox}), which
     * provides the format ({@link EditFiles}).
     *
     * @throws IllegalStateException when this wrapper has no edits, or the sandbox is not on the class path
     * @throws IllegalArgumentException when an edit uses something that cannot be written (a native object it
     *     captured, a method reference to a library's method...), saying what and why
     * @throws IOException when the file cannot be written
     */
    public void exportEdits(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        List<TraceBody<?>> bodies = edits();
        if (bodies.isEmpty()) {
            throw new IllegalStateException("the wrapper of " + key() + " has no edits to export: make an edited copy "
                    + "with edit(...) and export that");
        }
        editFiles("exportEdits").write(this, bodies, file);
    }

    /**
     * A copy of this wrapper with the edits in {@code file} after its own: nnsight's {@code
     * model.import_edits()}. The file must have been written by {@link #exportEdits} for a model of this one's
     * {@linkplain #key() key}. Before anything of it is loaded, its hash is checked, and its code is checked with
     * the model server's allow-list: imported code cannot read files, open connections, start processes or
     * threads, or reflect, whoever wrote the file. Its classes live in a class loader of their own.
     *
     * <p>Imported edits run here as if they had been written here. They do not travel to a model server: their
     * code lives in a class loader of its own, which a job's code cannot ship with; a program that has their
     * source runs them remotely.
     *
     * @throws IllegalArgumentException when the file is not a file of edits, was changed since it was written,
     *     was written for another model, or its code uses what imported code may not, saying which
     * @throws IllegalStateException when the sandbox (module {@code nnsight-remote-sandbox}) is not on the class
     *     path
     * @throws IOException when the file cannot be read, such as a {@link java.nio.file.NoSuchFileException}
     */
    public NNsight importEdits(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        Edits imported = edits;
        for (TraceBody<?> body : editFiles("importEdits").read(this, file)) {
            imported = imported.plus(body);
        }
        return copy(imported, backend);
    }

    private static EditFiles editFiles(String method) {
        return EditFilesService.FOUND.orElseThrow(() -> new IllegalStateException(method + " writes and reads edits "
                + "in the model server's format and checks imported code with its sandbox, which is not on the class "
                + "path: add the dependency io.nnsight:nnsight-remote-sandbox"));
    }

    /** The provider of {@link EditFiles}, looked up the first time edits are exported or imported. */
    private static final class EditFilesService {
        static final Optional<EditFiles> FOUND =
                ServiceLoader.load(EditFiles.class, NNsight.class.getClassLoader()).findFirst();
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
