package io.nnsight;

import io.nnsight.internal.ForwardMethod;
import io.nnsight.spi.CloseMatches;
import io.nnsight.spi.Traceable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * One module of a wrapped model, addressed by its path: the handle through which intervention code reads
 * and changes the module's inputs and output while the model runs.
 *
 * <p>Envoys form a tree that mirrors the module tree: {@link #get(String) get("layers.3.mlp")} walks it by
 * dotted path (list indices are path segments), iterating an envoy visits its children, and {@link
 * #toString()} prints the tree.
 *
 * <p>Inside a {@linkplain NNsight#trace trace} body, {@link #output()}, {@link #input()} and {@link
 * #inputs()} suspend the body until the model reaches this module, and then return the live values: an
 * in-place edit of the returned tensor changes what the model computes next. {@link #setOutput},
 * {@link #setInput} and {@link #setInputs} replace the values instead, and {@link #skip} replaces the
 * module's whole computation. Each invoke sees only its own batch rows.
 *
 * <pre>{@code
 * Tensor logits = model.trace(x, tr -> {
 *     model.get("layers.0").output().mul_(2);            // edit in place
 *     model.get("layers.1").setOutput(zeros(1, 64));     // replace
 *     return model.get("head").output();
 * });
 * }</pre>
 *
 * <p>Within one invoke, modules must be read in the order the model runs them ({@link
 * OutOfOrderException} otherwise), and each read is of the invoke's current iteration (the first call of
 * the module, unless {@link Tracer#iter} or {@link Tracer#next} moved it).
 */
public class Envoy extends Accessor implements Iterable<Envoy> {
    private final NNsight root;
    private final String path;
    private final Module module;
    private final Map<String, Envoy> children;
    private Source source;

    Envoy(NNsight root, String path, Module module, int index) {
        super(index);
        this.root = root == null ? (NNsight) this : root;
        this.path = path;
        this.module = module;
        this.children = new LinkedHashMap<>();
    }

    /** An envoy that is {@code original} in all but identity: the same root, module and children (a wrapper's copy). */
    Envoy(Envoy original) {
        super(original.index);
        this.root = original.root;
        this.path = original.path;
        this.module = original.module;
        this.children = original.children;
        this.source = original.source;
    }

    /**
     * The wrapped model this envoy belongs to: the root of its tree. Copies made by {@link NNsight#edit}
     * share the tree, so for their envoys, and for a copy itself, this is the wrapper that built it.
     */
    @Override
    public NNsight root() {
        return root;
    }

    /** The path for messages: {@code model.layers.3.self_attn (layers.3.attn)} when an alias applies. */
    @Override
    String describe() {
        return path.isEmpty() ? "model" : root.aliases().describe(path);
    }

    @Override
    String untraceable() {
        return describe() + " is a " + module.getClass().getSimpleName() + ", a module whose calls nnsight cannot see: "
                + "build the model from io.nnsight.nn modules (or subclasses of HookedModule), or run with the nnsight agent";
    }

    void source(Source source) {
        this.source = source;
    }

    /**
     * The operations inside this module's code: each call its {@code forward} makes ({@code softmax}, {@code
     * view}, a child's {@code forward}...), readable and replaceable like a module's output.
     *
     * <pre>{@code
     * Tensor weights = model.trace(x, tr -> model.get("layers.0.self_attn").source().op("softmax_0").output());
     * }</pre>
     *
     * @throws IllegalStateException when the nnsight agent did not map this module's code (it maps the code
     *     of module classes loaded after it started)
     */
    public Source source() {
        if (source == null) {
            throw new IllegalStateException(describe() + ".source(): the operations of " + module.getClass().getName()
                    + " are not mapped; run with the nnsight agent (-javaagent:nnsight-agent.jar), which maps the code of "
                    + "module classes as they load");
        }
        return source;
    }

    void addChild(String name, Envoy child) {
        children.put(name, child);
    }

    // ---- the tree ----

    /** The dotted path of this module from the root, like {@code "layers.3.mlp"}; empty for the root. */
    public String path() {
        return path;
    }

    /** The last segment of the path (empty for the root). */
    public String name() {
        int dot = path.lastIndexOf('.');
        return dot < 0 ? path : path.substring(dot + 1);
    }

    /** The module itself. */
    public Module module() {
        return module;
    }

    /** The direct children, in registration order. */
    public List<Envoy> children() {
        return Collections.unmodifiableList(new ArrayList<>(children.values()));
    }

    /** Iterates over the direct children. */
    @Override
    public Iterator<Envoy> iterator() {
        return children().iterator();
    }

    /**
     * The envoy of the module at {@code path}, relative to this one (for example {@code "layers.3.mlp"}).
     *
     * @throws IllegalArgumentException when there is no such module; the message names the missing segment,
     *     what exists there and the close matches
     */
    public Envoy get(String path) {
        Objects.requireNonNull(path, "path");
        if (path.isEmpty()) {
            return this;
        }
        Envoy envoy = this;
        for (String segment : path.split("\\.", -1)) {
            Envoy child = envoy.children.get(segment);
            if (child == null) {
                child = root.aliases().resolve(envoy, segment);
            }
            if (child == null) {
                throw new IllegalArgumentException(noSuchModule(path, envoy, segment));
            }
            envoy = child;
        }
        return envoy;
    }

    /**
     * The path of this module by the aliases of {@link NNsight#rename} where they apply, like {@code
     * "layers.3.attn"} for {@code "model.layers.3.self_attn"}; the {@linkplain #path() path} itself when none
     * does.
     */
    public String aliasedPath() {
        return root.aliases().aliasedPath(path);
    }

    /** The child named {@code name} (not an alias), or {@code null}. */
    Envoy child(String name) {
        return children.get(name);
    }

    /** The module at {@code path} below this one by module names alone (no aliases), or {@code null}. */
    Envoy find(String path) {
        Envoy envoy = this;
        for (String segment : path.split("\\.", -1)) {
            envoy = envoy.children.get(segment);
            if (envoy == null) {
                return null;
            }
        }
        return envoy;
    }

    private String noSuchModule(String wanted, Envoy parent, String segment) {
        String full = join(this.path, wanted);
        StringBuilder message = new StringBuilder("No module at '").append(full).append("': ")
                .append(parent.path.isEmpty() ? "the root module" : "'" + parent.path + "'");
        List<String> aliases = new ArrayList<>();
        for (Aliases.Rule rule : root.aliases().rules()) {
            if (parent.find(rule.path()) != null) {
                aliases.add(rule.alias() + " (" + rule.path() + ")");
            }
        }
        if (parent.children.isEmpty()) {
            message.append(" has no children");
        } else {
            message.append(" has no child '").append(segment).append("'; its children are ")
                    .append(String.join(", ", parent.children.keySet()));
        }
        if (!aliases.isEmpty()) {
            message.append("; its aliases are ").append(String.join(", ", aliases));
        }
        List<String> close = closeMatches(full, root.knownPaths());
        if (!close.isEmpty()) {
            message.append(". Close matches: ").append(String.join(", ", close));
        }
        return message.toString();
    }

    /**
     * Up to three names of {@code known} close to {@code wanted}, for "close matches" in messages: names equally
     * close in alphabetical order, none further than a third of the name (at least 2 edits).
     */
    static List<String> closeMatches(String wanted, Collection<String> known) {
        return CloseMatches.closest(wanted, new TreeSet<>(known), 3, Math.max(2, wanted.length() / 3));
    }

    static String join(String parent, String child) {
        return parent.isEmpty() ? child : parent + "." + child;
    }

    void collectPaths(List<String> into) {
        into.add(path);
        for (Envoy child : children.values()) {
            child.collectPaths(into);
        }
    }

    // ---- calling the module directly ----

    /**
     * Runs this module's {@code forward} on {@code arguments} directly. Inside a trace the call is not part
     * of the traced run: no invoke sees it (this is how a logit lens applies the final norm and head to an
     * intermediate output).
     */
    public Tensor call(Object... arguments) {
        requireLive(arguments, describe() + ".call(...)");
        Object value = ForwardMethod.call(module, Inputs.of(arguments));
        if (value instanceof Tensor) {
            return (Tensor) value;
        }
        throw new ClassCastException(describe() + ".forward returned " + Tensors.describe(value) + ", not a Tensor");
    }

    // ---- printing ----

    /** The module tree below this envoy, one module per line, like PyTorch prints a module. */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder();
        print(text, "", "");
        return text.toString();
    }

    private void print(StringBuilder text, String indent, String label) {
        text.append(indent).append(label).append(describeModule());
        if (children.isEmpty()) {
            text.append('\n');
            return;
        }
        text.append("(\n");
        for (Map.Entry<String, Envoy> child : children.entrySet()) {
            StringBuilder name = new StringBuilder("(").append(child.getKey());
            for (Aliases.Rule rule : root.aliases().rules()) {
                if (rule.path().equals(child.getKey())) {
                    name.append(", alias ").append(rule.alias());
                }
            }
            child.getValue().print(text, indent + "  ", name.append("): ").toString());
        }
        text.append(indent).append(")\n");
    }

    private String describeModule() {
        if (module instanceof Traceable) {
            String description = ((Traceable) module).describe();
            return children.isEmpty() ? description : description.replaceFirst("\\(\\)$", "");
        }
        String name = module.name().getString();
        return name.substring(name.lastIndexOf(':') + 1) + (children.isEmpty() ? "()" : "");
    }
}
