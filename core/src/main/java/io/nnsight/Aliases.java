package io.nnsight;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The aliases of a wrapper's module paths ({@link NNsight#rename}), shared by its copies as the envoy tree is.
 * A rule names a path, relative to any module where it exists, and an alias: one path segment that stands for
 * that path there. {@code "model.layers" -> "layers"} makes the root's {@code layers.3} its {@code
 * model.layers.3}; {@code "self_attn" -> "attn"} gives every module with a {@code self_attn} child an {@code
 * attn}.
 *
 * <p>Rules are only added, and the list replaced whole, so readers need no lock; {@link #version()} counts
 * the changes, for envoys that remember their aliased path.
 */
final class Aliases {
    private volatile List<Rule> rules = List.of();

    /** A rule: {@code alias} stands for {@code path} at each module where {@code path} exists. */
    record Rule(String path, String alias) {}

    /** The rules, in the order they were added. */
    List<Rule> rules() {
        return rules;
    }

    /** How many rules there are: changes whenever a rule is added. */
    int version() {
        return rules.size();
    }

    /**
     * Adds the rules of {@code renames} (path to alias; leading dots, as nnsight writes them, are dropped) for
     * the tree under {@code root}, all or none.
     *
     * @throws IllegalArgumentException when an alias is not one path segment, a path exists nowhere in the tree,
     *     or an alias would hide a module or another alias where its path exists
     */
    synchronized void add(Envoy root, Map<String, String> renames) {
        List<Rule> added = new ArrayList<>(rules);
        for (Map.Entry<String, String> rename : renames.entrySet()) {
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
        rules = List.copyOf(added);
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
