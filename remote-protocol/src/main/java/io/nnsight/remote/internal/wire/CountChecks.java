package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.serializers.CollectionSerializer;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers.ObjectArraySerializer;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers.StringArraySerializer;
import com.esotericsoftware.kryo.serializers.DefaultSerializers.ArraysAsListSerializer;
import com.esotericsoftware.kryo.serializers.DefaultSerializers.PriorityQueueSerializer;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers.JdkImmutableListSerializer;
import com.esotericsoftware.kryo.serializers.MapSerializer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Reading graphs from strangers without allocating what their counts claim. Kryo sizes arrays, strings and
 * collections from the count a graph gives before it reads their elements, so a few crafted bytes could
 * make it allocate gigabytes. Every element takes at least one byte of the graph (a primitive its size), so
 * a count larger than the bytes left is refused before anything is allocated: the input of {@link
 * ValueGraphs#read} checks the counts of the arrays and strings it reads, and the serializers of object arrays
 * and of the collections and maps Kryo sizes in advance check theirs.
 */
final class CountChecks {
    private CountChecks() {}

    /**
     * The serializer to use instead of Kryo's default {@code serializer} for {@code type}: the same format,
     * with its count checked before anything is allocated.
     */
    @SuppressWarnings({"rawtypes", "unchecked"})
    static Serializer serializer(Kryo kryo, Class type, Serializer serializer) {
        Class<?> kind = serializer.getClass();
        if (kind == CollectionSerializer.class) {
            return new BoundedCollections();
        } else if (kind == MapSerializer.class) {
            return new BoundedMaps();
        } else if (kind == JdkImmutableListSerializer.class) {
            return new BoundedImmutableLists();
        } else if (kind == ArraysAsListSerializer.class) {
            return new BoundedArraysAsLists();
        } else if (kind == PriorityQueueSerializer.class) {
            return new BoundedPriorityQueues();
        } else if (kind == ObjectArraySerializer.class) {
            return new BoundedObjectArrays(kryo, type);
        } else if (kind == StringArraySerializer.class) {
            return new BoundedStringArrays();
        }
        return serializer;
    }

    /**
     * Refuses {@code count} elements of at least {@code bytesEach} bytes when fewer bytes are left.
     *
     * @throws KryoException when the count is negative or larger than the bytes left allow
     */
    static void check(Input input, long count, int bytesEach) {
        long left = input.limit() - input.position();
        if (count < 0 || count > left / bytesEach) {
            throw new KryoException("the graph gives a count of " + count + " where " + left + " bytes are left");
        }
    }

    /** The count of an array as its serializer will read it next (the length plus one; 0 for null). */
    private static void checkArrayLength(Input input) {
        int start = input.position();
        int length = input.readVarInt(true);
        input.setPosition(start);
        if (length > 1) {
            check(input, length - 1L, 1);
        }
    }

    /** The input of a graph held in memory, which checks the counts of arrays and strings. */
    static final class BoundedInput extends Input {
        BoundedInput(byte[] graph) {
            super(graph);
        }

        @Override
        public byte[] readBytes(int length) {
            check(this, length, 1);
            return super.readBytes(length);
        }

        @Override
        public int[] readInts(int length) {
            check(this, length, Integer.BYTES);
            return super.readInts(length);
        }

        @Override
        public int[] readInts(int length, boolean optimizePositive) {
            check(this, length, 1);
            return super.readInts(length, optimizePositive);
        }

        @Override
        public long[] readLongs(int length) {
            check(this, length, Long.BYTES);
            return super.readLongs(length);
        }

        @Override
        public long[] readLongs(int length, boolean optimizePositive) {
            check(this, length, 1);
            return super.readLongs(length, optimizePositive);
        }

        @Override
        public float[] readFloats(int length) {
            check(this, length, Float.BYTES);
            return super.readFloats(length);
        }

        @Override
        public double[] readDoubles(int length) {
            check(this, length, Double.BYTES);
            return super.readDoubles(length);
        }

        @Override
        public short[] readShorts(int length) {
            check(this, length, Short.BYTES);
            return super.readShorts(length);
        }

        @Override
        public char[] readChars(int length) {
            check(this, length, Character.BYTES);
            return super.readChars(length);
        }

        @Override
        public boolean[] readBooleans(int length) {
            check(this, length, 1);
            return super.readBooleans(length);
        }

        @Override
        public String readString() {
            checkStringLength();
            return super.readString();
        }

        @Override
        public StringBuilder readStringBuilder() {
            checkStringLength();
            return super.readStringBuilder();
        }

        /** A UTF-8 string starts with its length plus one (0 for null); each character takes a byte or more. */
        private void checkStringLength() {
            if (position() < limit() && readVarIntFlag()) {
                int start = position();
                int length = readVarIntFlag(true);
                setPosition(start);
                if (length > 1) {
                    check(this, length - 1L, 1);
                }
            }
        }
    }

    @SuppressWarnings("rawtypes")
    private static final class BoundedCollections extends CollectionSerializer<Collection> {
        @Override
        protected Collection create(Kryo kryo, Input input, Class<? extends Collection> type, int size) {
            check(input, size, 1);
            return super.create(kryo, input, type, size);
        }
    }

    @SuppressWarnings("rawtypes")
    private static final class BoundedMaps extends MapSerializer<Map> {
        @Override
        protected Map create(Kryo kryo, Input input, Class<? extends Map> type, int size) {
            check(input, size, 2);
            return super.create(kryo, input, type, size);
        }
    }

    /** {@code List.of(...)}, as Kryo's {@link JdkImmutableListSerializer} reads it (which is final). */
    private static final class BoundedImmutableLists extends CollectionSerializer<List<Object>> {
        BoundedImmutableLists() {
            setElementsCanBeNull(false);
        }

        @Override
        protected List<Object> create(Kryo kryo, Input input, Class<? extends List<Object>> type, int size) {
            check(input, size, 1);
            return new ArrayList<>(size);
        }

        @Override
        public List<Object> read(Kryo kryo, Input input, Class<? extends List<Object>> type) {
            return List.of(super.read(kryo, input, type).toArray());
        }
    }

    @SuppressWarnings("rawtypes")
    private static final class BoundedArraysAsLists extends ArraysAsListSerializer {
        @Override
        protected List create(Kryo kryo, Input input, Class type, int size) {
            check(input, size, 1);
            return super.create(kryo, input, type, size);
        }
    }

    @SuppressWarnings("rawtypes")
    private static final class BoundedPriorityQueues extends PriorityQueueSerializer {
        @Override
        protected PriorityQueue create(Kryo kryo, Input input, Class<? extends PriorityQueue> type, int size) {
            check(input, size, 1);
            return super.create(kryo, input, type, size);
        }
    }

    private static final class BoundedObjectArrays extends ObjectArraySerializer {
        @SuppressWarnings("rawtypes")
        BoundedObjectArrays(Kryo kryo, Class type) {
            super(kryo, type);
        }

        @Override
        @SuppressWarnings("rawtypes")
        public Object[] read(Kryo kryo, Input input, Class type) {
            checkArrayLength(input);
            return super.read(kryo, input, type);
        }
    }

    private static final class BoundedStringArrays extends StringArraySerializer {
        @Override
        @SuppressWarnings("rawtypes")
        public String[] read(Kryo kryo, Input input, Class type) {
            checkArrayLength(input);
            return super.read(kryo, input, type);
        }
    }
}
