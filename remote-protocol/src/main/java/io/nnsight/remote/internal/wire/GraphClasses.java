package io.nnsight.remote.internal.wire;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/** What a written graph needs on the side that reads it: the classes of its objects, and its lambdas' code. */
public final class GraphClasses {
    private final Set<Class<?>> instances = new LinkedHashSet<>();
    private final Map<LambdaSpec, ClassLoader> lambdas = new LinkedHashMap<>();

    void instanceOf(Class<?> type) {
        Class<?> element = type;
        while (element.isArray()) {
            element = element.getComponentType();
        }
        if (!element.isPrimitive()) {
            instances.add(element);
        }
    }

    void lambda(LambdaSpec spec, ClassLoader loader) {
        lambdas.putIfAbsent(spec, loader);
    }

    /** The classes of the objects written (array types as their element type). */
    public Set<Class<?>> instances() {
        return Collections.unmodifiableSet(instances);
    }

    /** The lambdas written, each with the class loader of the code that made it. */
    public Map<LambdaSpec, ClassLoader> lambdas() {
        return Collections.unmodifiableMap(lambdas);
    }
}
