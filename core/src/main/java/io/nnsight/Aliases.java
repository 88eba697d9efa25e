package io.nnsight;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The aliases of a wrapper's module paths ({@link NNsight#rename}), shared by its copies as the envoy tree is.
 * A rule names a path, relative to any module where it exists, and an alias: one path segment that stands for
 * that path there. {@code "model.layers" -> "layers"} makes the root's {@code layers.3} its {@code
 * model.layers.3}; {@code "self_attn" -> "attn"} gives every module with a {@code self_attn} child an {@code
 * attn}.
 *
 * <p>The list is replaced whole, so readers need no lock; {@link #version()} counts the changes, for envoys that
 * remember their aliased path. Rules are only added, except those a model server adds for one job while it runs
 * ({@link #during}).
 */
final class Aliases {
    private volatile List<Rule> rules = List.of();
    private volatile int version;

    /** A rule: {@code alias} stands for {@code path} at each module where {@code path} exists. */
    record Rule(String path, String alias) {}

    /** The rules, in the order they were added. */
    List<Rule> rules() {
        return rules;
    }

    /** Changes whenever the rules do. */
    int version() {
        return version;
    }

    private void set(List<Rule> changed) {
        rules = changed;
        version++;
    }

    /**
     * Adds the rules of {@code renames} (path to alias; leading dots, as nnsight writes them, are dropped) for
     * the tree under {@code root}, all or none.
     *
     * @throws IllegalArgumentException when an alias is not one path segment, a path exists nowhere in the tree,
     *     or an alias would hide a module or another alias where its path exists
     */
    synchronized void add(Envoy root, Map<String, String> renames) {
        set(withRules(root, renames.entrySet()));
    }

    /** The rules with those of {@code renames} added, checked as {@link #add} checks them. */
    private List<Rule> withRules(Envoy root, Iterable<Map.Entry<String, String>> renames) {
        List<Rule> added = new ArrayList<>(rules);
        for (Map.Entry<String, String> rename : renames) {
            String path = strip(Objects.requireNonNull(rename.getKey(), "path"));
            String alias = strip(Objects.requireNonNull(rename.getValue(), "alias"));
            if (path.isEmpty() || alias.isEmpty() || alias.contains(".")) {
                throw new IllegalArgumentException("rename " + rename.getKey() + " -> " + rename.getValue() + ": an "
                        + "alias is one path segment (such as \"layers\") that stands for a module path (such as "
                        + "\"model.layers\")");
            }
            if (path.equals(alias)) {
                continue; // a module's own name
            }
            Rule rule = new Rule(path, alias);
            List<Envoy> places = new ArrayList<>();
            placesOf(root, path, places);
            if (places.isEmpty()) {
                List<String> close = Envoy.closeMatches(path, root.root().allPaths());
                throw new IllegalArgumentException("rename " + path + " -> " + alias + ": no module has a module at '"
                        + path + "'" + (close.isEmpty() ? "" : "; close matches: " + String.join(", ", close)));
            }
            for (Envoy place : places) {
                check(rule, place, added);
            }
            if (!added.contains(rule)) {
                added.add(rule);
            }
        }
        return List.copyOf(added);
    }

    /**
     * Runs {@code action} with the rules of {@code renames} (each path with its aliases, as {@link
     * NNsight#renames()} gives them) added for the tree under {@code root}, checked as {@link #add} checks them,
     * and takes away those it added when it returns or throws: a client's aliases for one job on a model server,
     * which runs such a job alone, so nothing else uses the tree meanwhile.
     *
     * @throws IllegalArgumentException when a rule does not fit the tree, as for {@link #add}; then none is added
     */
    <T> T during(Envoy root, Map<String, List<String>> renames, Supplier<T> action) {
        List<Rule> added;
        synchronized (this) {
            List<Rule> before = rules;
            List<Rule> with = withRules(root, entries(renames));
            added = new ArrayList<>(with);
            added.removeAll(before);
            set(with);
        }
        try {
            return action.get();
        } finally {
            synchronized (this) {
                List<Rule> without = new ArrayList<>(rules);
                without.removeAll(added);
                set(List.copyOf(without));
            }
        }
    }

    /** Whether {@code renames} (as {@link #during} takes them) holds a rule this tree does not have. */
    boolean lacksAny(Map<String, List<String>> renames) {
        List<Rule> all = rules;
        for (Map.Entry<String, String> entry : entries(renames)) {
            String path = strip(entry.getKey());
            String alias = strip(entry.getValue());
            if (!path.equals(alias) && !all.contains(new Rule(path, alias))) {
                return true;
            }
        }
        return false;
    }

    private static List<Map.Entry<String, String>> entries(Map<String, List<String>> renames) {
        List<Map.Entry<String, String>> entries = new ArrayList<>();
        renames.forEach((path, aliases) -> aliases.forEach(alias -> entries.add(Map.entry(path, alias))));
        return entries;
    }

    private static void check(Rule rule, Envoy place, List<Rule> rules) {
        String where = place.path().isEmpty() ? "the root module" : "'" + place.path() + "'";
        if (place.child(rule.alias()) != null) {
            throw new IllegalArgumentException("rename " + rule.path() + " -> " + rule.alias() + ": " + where
                    + " has a module named '" + rule.alias() + "', which the alias would hide");
        }
        Envoy target = place.find(rule.path());
        for (Rule other : rules) {
            Envoy otherTarget = other.alias().equals(rule.alias()) ? place.find(other.path()) : null;
            if (otherTarget != null && otherTarget != target) {
                throw new IllegalArgumentException("rename " + rule.path() + " -> " + rule.alias() + ": at " + where
                        + ", '" + rule.alias() + "' already stands for '" + other.path() + "'");
            }
        }
    }

    private static void placesOf(Envoy envoy, String path, List<Envoy> into) {
        if (envoy.find(path) != null) {
            into.add(envoy);
        }
        for (Envoy child : envoy.children()) {
            placesOf(child, path, into);
        }
    }

    private static String strip(String name) {
        return name.startsWith(".") ? name.substring(1) : name;
    }

    /** The module that {@code alias} stands for at {@code place}, or {@code null}. */
    Envoy resolve(Envoy place, String alias) {
        for (Rule rule : rules) {
            if (rule.alias().equals(alias)) {
                Envoy target = place.find(rule.path());
                if (target != null) {
                    return target;
                }
            }
        }
        return null;
    }

    /**
     * The module path {@code path} by aliases where they apply (the longest aliased path at each step): {@code
     * layers.3.attn} for {@code model.layers.3.self_attn}; the path itself when none applies. A rule applies
     * wherever its path continues the path, since the path is a module's.
     */
    String aliasedPath(String path) {
        List<Rule> all = rules;
        if (all.isEmpty() || path.isEmpty()) {
            return path;
        }
        String[] segments = path.split("\\.");
        List<String> aliased = new ArrayList<>();
        int next = 0;
        while (next < segments.length) {
            Rule best = null;
            int bestLength = 0;
            for (Rule rule : all) {
                String[] rulePath = rule.path().split("\\.");
                if (rulePath.length > bestLength && startsWith(segments, next, rulePath)) {
                    best = rule;
                    bestLength = rulePath.length;
                }
            }
            aliased.add(best == null ? segments[next] : best.alias());
            next += best == null ? 1 : bestLength;
        }
        return String.join(".", aliased);
    }

    /** How messages name the module at {@code path}: {@code model.layers.3 (layers.3)} when an alias applies. */
    String describe(String path) {
        String aliased = aliasedPath(path);
        return aliased.equals(path) ? path : path + " (" + aliased + ")";
    }

    private static boolean startsWith(String[] segments, int from, String[] prefix) {
        if (from + prefix.length > segments.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (!segments[from + i].equals(prefix[i])) {
                return false;
            }
        }
        return true;
    }
}
