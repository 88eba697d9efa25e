package io.nnsight.remote.internal.wire;

import io.nnsight.NNsight;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Packs values with the code they need into an {@link Envelope}: the classes they and their lambdas use, as
 * class files ({@link ClassPlan}), and the values of the static fields that code reads. What a job's request
 * ships, and what a file of exported edits holds.
 *
 * <p>The graph has two roots: {@code statics}, a map from {@code "owner#field"} (internal owner name) to the value
 * of each static field the shipped code uses, and then the values, so that a server sets those fields before it
 * reads the values, whose enums' initializers (which ship, as they make the constants) may use them. Writing it
 * reveals classes to ship, whose code may use more static fields, whose values may hold more classes: the graph is
 * written again until nothing new turns up.
 */
public final class Packing {
    private Packing() {}

    /**
     * Packs {@code values} for {@code model}: an envelope of {@code kind} whose graph is the static fields' map and
     * then {@code values}.
     *
     * @param loader the class loader of the code the values come from
     * @throws IllegalArgumentException when something the values use cannot be shipped, saying what and why
     */
    public static Envelope pack(String kind, NNsight model, Object[] values, ClassLoader loader) {
        Map<String, Object> statics = new LinkedHashMap<>();
        while (true) {
            GraphClasses seen = new GraphClasses();
            byte[] graph = ValueGraphs.write(statics, values, loader, model, seen);
            ClassPlan plan = ClassPlan.of(seen, loader);
            boolean added = false;
            for (Map.Entry<String, Set<String>> owner : plan.staticFields().entrySet()) {
                for (String field : owner.getValue()) {
                    String key = owner.getKey() + "#" + field;
                    if (!statics.containsKey(key)) {
                        statics.put(key, plan.staticValue(owner.getKey(), field));
                        added = true;
                    }
                }
            }
            if (!added) {
                List<LambdaSpec> lambdas = new ArrayList<>(seen.lambdas().keySet());
                Map<String, byte[]> classes = plan.classFiles();
                for (LambdaSpec lambda : lambdas) {
                    String owner = lambda.implClass().replace('/', '.');
                    if (!classes.containsKey(owner)) {
                        // a server makes a lambda in the shipped class of its code, which it has checked
                        throw new IllegalArgumentException("the lambda " + owner + "::" + lambda.implName() + " cannot "
                                + "be shipped: it is a method reference to a class that does not ship (the JDK's, "
                                + "nnsight's or a library's). Write it as a lambda instead, such as x -> x."
                                + lambda.implName() + "(...)");
                    }
                }
                return new Envelope(kind, model.key(), Runtime.version().feature(), classes, lambdas, graph);
            }
        }
    }
}
