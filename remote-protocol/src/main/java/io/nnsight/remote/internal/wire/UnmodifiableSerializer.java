package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NavigableSet;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The views of {@code Collections.unmodifiableList(...)} and its kin (what {@code Envoy.children()} returns):
 * their contents travel as a plain collection or map, read back in a view of the same kind. Kryo's own
 * collection serializer would make an empty view and fail to add to it.
 */
final class UnmodifiableSerializer extends Serializer<Object> {
    private static final String PREFIX = "java.util.Collections$Unmodifiable";
    private static final Set<String> KINDS = Set.of("Collection", "Set", "SortedSet", "NavigableSet", "List",
            "RandomAccessList", "Map", "SortedMap", "NavigableMap", "SequencedCollection", "SequencedSet",
            "SequencedMap");

    /** Whether {@code type} is such a view. */
    static boolean handles(Class<?> type) {
        String name = type.getName();
        return name.startsWith(PREFIX) && KINDS.contains(name.substring(PREFIX.length()));
    }

    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public void write(Kryo kryo, Output output, Object view) {
        Object contents;
        if (view instanceof SortedMap) {
            contents = new TreeMap<>((SortedMap) view);
        } else if (view instanceof Map) {
            contents = new LinkedHashMap<>((Map) view);
        } else if (view instanceof SortedSet) {
            contents = new TreeSet<>((SortedSet) view);
        } else if (view instanceof Set) {
            contents = new LinkedHashSet<>((Set) view);
        } else {
            contents = new ArrayList<>((Collection) view);
        }
        kryo.writeClassAndObject(output, contents);
    }

    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public Object read(Kryo kryo, Input input, Class<?> type) {
        Object contents = kryo.readClassAndObject(input);
        try {
            if (NavigableMap.class.isAssignableFrom(type)) {
                return Collections.unmodifiableNavigableMap((NavigableMap) contents);
            } else if (SortedMap.class.isAssignableFrom(type)) {
                return Collections.unmodifiableSortedMap((SortedMap) contents);
            } else if (Map.class.isAssignableFrom(type)) {
                return Collections.unmodifiableMap((Map) contents);
            } else if (List.class.isAssignableFrom(type)) {
                return Collections.unmodifiableList((List) contents);
            } else if (NavigableSet.class.isAssignableFrom(type)) {
                return Collections.unmodifiableNavigableSet((NavigableSet) contents);
            } else if (SortedSet.class.isAssignableFrom(type)) {
                return Collections.unmodifiableSortedSet((SortedSet) contents);
            } else if (Set.class.isAssignableFrom(type)) {
                return Collections.unmodifiableSet((Set) contents);
            }
            return Collections.unmodifiableCollection((Collection) contents);
        } catch (ClassCastException | NullPointerException e) {
            throw new KryoException("an unmodifiable " + type.getSimpleName() + " that holds "
                    + (contents == null ? "null" : contents.getClass().getName()));
        }
    }
}
