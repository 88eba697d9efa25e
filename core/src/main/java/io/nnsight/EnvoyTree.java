package io.nnsight;

import io.nnsight.internal.TraceTarget;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.ModuleChildren;
import io.nnsight.spi.NativeHookPoints;
import io.nnsight.spi.SourceMap;
import io.nnsight.spi.Traceable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Module;

/**
 * Builds a wrapper's envoy tree, once, when the wrapper is made: an {@link Envoy} per module under the root,
 * an index per traceable module (its place in a trace's bookkeeping) and per operation inside their code
 * ({@code <module>.source.<operation>}), and the {@link TraceTarget} that hooks them.
 *
 * <p>A module's children are its own list for a traceable module ({@link Traceable#namedChildren()}); for a
 * native libtorch module (a {@code ModuleListImpl}), libtorch's children matched to the Java objects that the
 * modules above it hold in their fields, since JavaCPP makes new Java objects for the same native modules.
 */
final class EnvoyTree {
    private final NNsight root;
    private final Map<Module, Integer> indices = new IdentityHashMap<>();
    private final List<HookPoint> hookPoints = new ArrayList<>();
    private final List<String> traceablePaths = new ArrayList<>();
    private final Map<Long, Module> known = new HashMap<>();

    private EnvoyTree(NNsight root) {
        this.root = root;
    }

    /**
     * Adds the envoys of {@code model}'s modules, then of {@code attachments}, under {@code root} (whose module
     * is {@code model}), and hooks every traceable one.
     *
     * @return the target of the root's traces
     */
    static TraceTarget build(NNsight root, Module model, Map<String, ? extends Module> attachments,
            Batchable batchable) {
        EnvoyTree tree = new EnvoyTree(root);
        tree.index(model, ""); // a traceable root is the first module indexed, so its index is 0, as the root's envoy says
        tree.add(root, tree.children(model));
        tree.add(root, attachments);
        Map<String, Integer>[] operationBases = tree.mapOperations();
        TraceTarget target = new TraceTarget(root, batchable, tree.hookPoints,
                tree.traceablePaths.toArray(new String[0]), operationBases, root.aliases()::describe);
        tree.indices.forEach((module, index) -> {
            if (module instanceof io.nnsight.spi.BatchSensitive) {
                target.markBatchSensitive(index);
            }
        });
        return target;
    }

    private int index(Module module, String path) {
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

    private void add(Envoy envoy, Map<String, ? extends Module> children) {
        for (Map.Entry<String, ? extends Module> child : children.entrySet()) {
            String path = Envoy.join(envoy.path(), child.getKey());
            Module childModule = child.getValue();
            Envoy childEnvoy = new Envoy(root, path, childModule, index(childModule, path));
            envoy.addChild(child.getKey(), childEnvoy);
            add(childEnvoy, children(childModule));
        }
    }

    /**
     * Numbers the operations inside the code of each traceable module after the modules (their paths are
     * {@code <module>.source.<operation>}), and gives the module's envoys their {@link Source}.
     */
    @SuppressWarnings("unchecked")
    private Map<String, Integer>[] mapOperations() {
        int modules = traceablePaths.size();
        Map<String, Integer>[] bases = new Map[modules];
        Map<Integer, Source> sources = new HashMap<>();
        Module[] byIndex = new Module[modules];
        indices.forEach((module, index) -> byIndex[index] = module);
        // in the modules' order, so that two builds of one model number their operations alike (a scan's copy)
        for (int index = 0; index < modules; index++) {
            String path = traceablePaths.get(index);
            for (Class<?> type = byIndex[index].getClass(); type != null && type != Module.class; type = type.getSuperclass()) {
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
                    traceablePaths.add(Envoy.join(path, "source." + site.name()));
                }
                Source source = sources.get(index);
                if (source == null) {
                    sources.put(index, new Source(root, path, type.getName(), sites, first));
                } else {
                    source.add(root, type.getName(), sites, first);
                }
            }
        }
        attachSources(root, sources);
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
    private Map<String, Module> children(Module module) {
        known.putAll(ModuleChildren.byAddress(module));
        if (module instanceof Traceable) {
            return ((Traceable) module).namedChildren();
        }
        return ModuleChildren.named(module, known);
    }
}
