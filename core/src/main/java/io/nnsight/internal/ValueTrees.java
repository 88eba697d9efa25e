package io.nnsight.internal;

import io.nnsight.Inputs;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;

/**
 * Walks the values that flow through a trace: tensors alone or inside {@link Inputs}, lists, maps,
 * arrays, {@link Optional}s and records (for reading).
 */
public final class ValueTrees {
    private ValueTrees() {}

    /** Calls {@code action} once for every native pointer reachable from {@code value}. */
    public static void forEachPointer(Object value, Consumer<Pointer> action) {
        visit(value, action, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private static void visit(Object value, Consumer<Pointer> action, Set<Object> seen) {
        if (value == null || value instanceof String || value instanceof Number || value instanceof Boolean) {
            return;
        }
        if (!seen.add(value)) {
            return;
        }
        if (value instanceof Pointer) {
            action.accept((Pointer) value);
        } else if (value instanceof Inputs) {
            visit(((Inputs) value).positional(), action, seen);
            visit(((Inputs) value).named(), action, seen);
        } else if (value instanceof Iterable) {
            for (Object element : (Iterable<?>) value) {
                visit(element, action, seen);
            }
        } else if (value instanceof Map) {
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                visit(entry.getKey(), action, seen);
                visit(entry.getValue(), action, seen);
            }
        } else if (value instanceof Object[]) {
            for (Object element : (Object[]) value) {
                visit(element, action, seen);
            }
        } else if (value instanceof Optional) {
            visit(((Optional<?>) value).orElse(null), action, seen);
        } else if (value.getClass().isRecord()) {
            for (RecordComponent component : value.getClass().getRecordComponents()) {
                visit(read(component, value), action, seen);
            }
        }
    }

    private static Object read(RecordComponent component, Object record) {
        try {
            var accessor = component.getAccessor();
            accessor.setAccessible(true);
            return accessor.invoke(record);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null; // a component we cannot read holds nothing we could keep
        }
    }

    /**
     * Rebuilds {@code value} with every tensor replaced by {@code mapping}: {@link Inputs}, lists, maps,
     * arrays and {@link Optional}s are copied, other values (records included) are returned unchanged.
     */
    public static Object mapTensors(Object value, UnaryOperator<Tensor> mapping) {
        if (value instanceof Tensor) {
            return mapping.apply((Tensor) value);
        }
        if (value instanceof Inputs) {
            Inputs inputs = (Inputs) value;
            List<Object> positional = new ArrayList<>(inputs.size());
            for (Object argument : inputs.positional()) {
                positional.add(mapTensors(argument, mapping));
            }
            Map<String, Object> named = new LinkedHashMap<>();
            inputs.named().forEach((name, argument) -> named.put(name, mapTensors(argument, mapping)));
            return Inputs.of(positional, named);
        }
        if (value instanceof List) {
            List<Object> copy = new ArrayList<>(((List<?>) value).size());
            for (Object element : (List<?>) value) {
                copy.add(mapTensors(element, mapping));
            }
            return copy;
        }
        if (value instanceof Map) {
            Map<Object, Object> copy = new LinkedHashMap<>();
            ((Map<?, ?>) value).forEach((key, element) -> copy.put(key, mapTensors(element, mapping)));
            return copy;
        }
        if (value instanceof Object[]) {
            Object[] copy = ((Object[]) value).clone();
            for (int i = 0; i < copy.length; i++) {
                copy[i] = mapTensors(copy[i], mapping);
            }
            return copy;
        }
        if (value instanceof Optional) {
            return ((Optional<?>) value).map(element -> mapTensors(element, mapping));
        }
        return value;
    }
}
