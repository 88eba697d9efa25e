package io.nnsight.remote.internal.shipping;

import io.nnsight.remote.internal.wire.ClassPlan;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Copies what a remote body did to the values it captured into the caller's own objects, so that code
 * written for a local trace works remotely too:
 *
 * <pre>{@code
 * List<Tensor> seen = new ArrayList<>();
 * lm.on(server).trace("Hello", tr -> { seen.add(NNsight.save(lm.get("model.norm").output())); return null; });
 * seen.get(0);   // filled by the server's run
 * }</pre>
 *
 * <p>Copied: the contents of mutable collections and maps, the elements of arrays, the values of atomics,
 * and the fields of objects of the application's classes (records included). A field whose value is itself
 * one of those is copied into in place, so the caller's objects keep their identity (and final fields are
 * never set); other fields take the remote value. Immutable values (strings, numbers, models) have nothing
 * to copy.
 */
final class WriteBack {
    private WriteBack() {}

    static void copy(Object[] remote, Object[] local) {
        if (remote == null || remote.length != local.length) {
            return;
        }
        Set<Object> visited = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < local.length; i++) {
            copy(remote[i], local[i], visited);
        }
    }

    /**
     * Copies {@code remote}'s contents into {@code local}.
     *
     * @return whether {@code local} took them; false when it cannot (immutable, another type, another length)
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static boolean copy(Object remote, Object local, Set<Object> visited) {
        if (remote == null || local == null || remote.getClass() != local.getClass()) {
            return false;
        }
        if (remote == local || !visited.add(local)) {
            return true;
        }
        try {
            if (local instanceof Collection) {
                ((Collection) local).clear();
                ((Collection) local).addAll((Collection) remote);
            } else if (local instanceof Map) {
                ((Map) local).clear();
                ((Map) local).putAll((Map) remote);
            } else if (local.getClass().isArray()) {
                if (Array.getLength(remote) != Array.getLength(local)) {
                    return false;
                }
                System.arraycopy(remote, 0, local, 0, Array.getLength(local));
            } else if (local instanceof AtomicReference) {
                ((AtomicReference) local).set(((AtomicReference) remote).get());
            } else if (local instanceof AtomicInteger) {
                ((AtomicInteger) local).set(((AtomicInteger) remote).get());
            } else if (local instanceof AtomicLong) {
                ((AtomicLong) local).set(((AtomicLong) remote).get());
            } else if (local instanceof AtomicBoolean) {
                ((AtomicBoolean) local).set(((AtomicBoolean) remote).get());
            } else if (ClassPlan.ships(local.getClass())) {
                copyFields(remote, local, visited);
            } else {
                return false;
            }
            return true;
        } catch (UnsupportedOperationException e) {
            // An immutable collection: the body cannot have changed it either.
            return false;
        }
    }

    private static void copyFields(Object remote, Object local, Set<Object> visited) {
        for (Class<?> type = local.getClass(); type != null && ClassPlan.ships(type); type = type.getSuperclass()) {
            for (Field field : type.getDeclaredFields()) {
                if (Modifier.isStatic(field.getModifiers())) {
                    continue;
                }
                try {
                    field.setAccessible(true);
                    Object value = field.get(remote);
                    if (field.getType().isPrimitive() || !copy(value, field.get(local), visited)) {
                        field.set(local, value);
                    }
                } catch (ReflectiveOperationException | RuntimeException e) {
                    // A field this JVM does not let us set (a record's) keeps its value.
                }
            }
        }
    }
}
