package io.nnsight.remote.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoSerializable;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.DefaultClassResolver;
import com.esotericsoftware.kryo.util.MapReferenceResolver;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.DayOfWeek;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordingFile;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Object graphs ({@link ValueGraphs}): plain values round-trip with their types, sharing and cycles; models, envoys
 * and tokenizers travel as references that bind to the reading side's model; malformed graphs are refused
 * with an {@link IllegalArgumentException}.
 */
class ValueGraphsTest {
    private static final ClassLoader LOADER = ValueGraphsTest.class.getClassLoader();

    private static LanguageModel lm;
    private static LanguageModel otherCopy;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        otherCopy = Shared.stories();
    }

    private static Object roundTrip(Object value) {
        return read(ValueGraphs.write(value, LOADER, lm));
    }

    private static Object read(byte[] graph) {
        return ValueGraphs.read(graph, LOADER, lm, LambdaFactory.DESERIALIZE_LAMBDA);
    }

    // ---- the test's own types ----

    record Point(int x, int y) {}

    record Labeled(String label, List<Point> points, Map<String, Integer> counts) {}

    enum Shade {
        LIGHT, DARK {
            @Override
            String code() {
                return "d";
            }
        };

        String code() {
            return name().substring(0, 1).toLowerCase();
        }
    }

    static final class Node {
        String name;
        Node next;
        List<Node> children = new ArrayList<>();

        Node(String name) {
            this.name = name;
        }
    }

    static class Base {
        protected int inherited = 1;
    }

    static final class Derived extends Base {
        final long[] values;
        transient String skipped = "transient";
        Shade shade;

        Derived(long[] values, Shade shade) {
            this.values = values;
            this.shade = shade;
        }
    }

    // ---- plain values ----

    @Test
    void boxedValuesAndStrings_roundTripEqual() {
        List<Object> values = Arrays.asList(1, 2L, 3.5, 4.5f, (short) 6, (byte) 7, 'c', true, "text", "", null,
                new BigInteger("123456789012345678901234567890"), new BigDecimal("3.14159265358979323846"));

        assertEquals(values, roundTrip(values));
        assertNull(roundTrip(null));
        assertEquals("ünïcødé ✓", roundTrip("ünïcødé ✓"));
    }

    @Test
    void records_roundTripEqual() {
        Labeled labeled = new Labeled("corners", List.of(new Point(0, 0), new Point(3, 4)), Map.of("a", 1, "b", 2));

        Labeled read = (Labeled) roundTrip(labeled);

        assertEquals(labeled, read);
        assertNotSame(labeled, read);
    }

    @Test
    void mutableCollections_keepTheirTypeAndOrder() {
        List<Object> values = List.of(new ArrayList<>(List.of(3, 1, 2)), new LinkedList<>(List.of("x", "y")),
                new ArrayDeque<>(List.of(1, 2)), new HashSet<>(Set.of(5, 6)), new LinkedHashSet<>(List.of(9, 8, 7)),
                new TreeSet<>(List.of("b", "a")), new HashMap<>(Map.of("k", 1)),
                new LinkedHashMap<>(Map.of("only", List.of(1))), new TreeMap<>(Map.of(2, "two", 1, "one")),
                EnumSet.of(DayOfWeek.MONDAY, DayOfWeek.FRIDAY));

        List<?> read = (List<?>) roundTrip(values);

        for (int i = 0; i < values.size(); i++) {
            assertEquals(values.get(i).getClass(), read.get(i).getClass(), "type of " + values.get(i));
        }
        assertEquals(List.of(3, 1, 2), read.get(0));
        assertEquals(List.of(9, 8, 7), new ArrayList<>((Set<?>) read.get(4)));
        assertEquals(List.of("a", "b"), new ArrayList<>((Set<?>) read.get(5)));
        assertEquals(List.of(1, 2), new ArrayList<>(((Map<?, ?>) read.get(8)).keySet()));
        assertEquals(values.get(9), read.get(9));
    }

    @Test
    void immutableCollections_roundTripEqualAndImmutable() {
        List<Object> values = List.of(List.of(), List.of(1), List.of(1, 2, 3), Set.of("a", "b"), Map.of(),
                Map.of("x", 1), Map.of("a", 1, "b", 2, "c", 3), Collections.emptyList(), Collections.singletonList(1),
                Collections.singletonMap("k", "v"), List.copyOf(new ArrayList<>(List.of(4, 5))),
                Arrays.asList(1, 2), java.util.stream.Stream.of(1, 2, 3).toList());

        List<?> read = (List<?>) roundTrip(values);

        assertEquals(values, read);
        assertThrows(UnsupportedOperationException.class, () -> ((List<Object>) read.get(2)).add(4));
        assertThrows(UnsupportedOperationException.class, () -> ((Map<Object, Object>) read.get(6)).put("d", 4));
    }

    @Test
    void unmodifiableViews_roundTripEqual_asViewsOfTheSameKind() {
        List<Object> values = List.of(Collections.unmodifiableList(new ArrayList<>(List.of(1, 2))),
                Collections.unmodifiableList(new ArrayList<>(List.of(3))),
                Collections.unmodifiableMap(new HashMap<>(Map.of("a", 1))),
                Collections.unmodifiableSet(new HashSet<>(Set.of(3))),
                Collections.unmodifiableCollection(new ArrayDeque<>(List.of(4, 5))),
                Collections.unmodifiableSortedSet(new TreeSet<>(Set.of("b", "a"))),
                Collections.unmodifiableNavigableMap(new TreeMap<>(Map.of(2, "two", 1, "one"))),
                lm.get("model.layers").children());

        List<?> read = (List<?>) roundTrip(values);

        for (int i = 0; i < values.size(); i++) {
            assertEquals(values.get(i).getClass(), read.get(i).getClass(), "type of " + values.get(i));
        }
        assertEquals(values.subList(0, 4), read.subList(0, 4));
        assertEquals(List.of(4, 5), new ArrayList<>((java.util.Collection<?>) read.get(4)));
        assertEquals(values.subList(5, 8), read.subList(5, 8));
        assertSame(lm.get("model.layers.2"), ((List<?>) read.get(7)).get(2));
        assertThrows(UnsupportedOperationException.class, () -> ((List<Object>) read.get(0)).add(3));
    }

    @Test
    void enumMap_isRefusedWhenRead_withAnIllegalArgumentException() {
        // Kryo makes an EnumMap without its key type; noticed, not fixed: an EnumMap does not travel
        byte[] graph = ValueGraphs.write(new java.util.EnumMap<>(Map.of(DayOfWeek.MONDAY, 1)), LOADER, lm);

        assertThrows(IllegalArgumentException.class, () -> read(graph));
    }

    @Test
    void arrays_ofPrimitivesObjectsAndArrays_roundTrip() {
        Object[] values = {new int[] {1, 2, 3}, new long[0], new double[] {1.5, Double.NaN}, new boolean[] {true},
                new byte[] {-1, 0, 1}, new char[] {'a'}, new float[] {1f}, new short[] {2}, new String[] {"a", null},
                new Point[] {new Point(1, 2)}, new int[][] {{1}, {2, 3}}, new Object[] {1, "two", null}};

        Object[] read = (Object[]) roundTrip(values);

        assertTrue(Arrays.deepEquals(values, read));
        assertInstanceOf(Point[].class, read[9]);
    }

    @Test
    void nestedObjects_keepFieldsOfEveryClass_butNotTransientOnes() {
        Derived derived = new Derived(new long[] {4, 5}, Shade.DARK);
        derived.inherited = 7;
        derived.skipped = "changed";

        Derived read = (Derived) roundTrip(derived);

        assertEquals(7, read.inherited);
        assertArrayEquals(new long[] {4, 5}, read.values);
        assertSame(Shade.DARK, read.shade);
        assertNull(read.skipped);
    }

    @Test
    void cycles_andSharedObjects_keepTheirShape() {
        Node root = new Node("root");
        Node child = new Node("child");
        root.next = child;
        child.next = root;
        root.children.add(child);
        child.children.add(child);
        List<Object> selfish = new ArrayList<>();
        selfish.add(selfish);

        Object[] read = (Object[]) roundTrip(new Object[] {root, child, selfish});

        Node readRoot = (Node) read[0];
        Node readChild = (Node) read[1];
        assertSame(readChild, readRoot.next);
        assertSame(readRoot, readChild.next);
        assertSame(readChild, readRoot.children.get(0));
        assertSame(readChild, readChild.children.get(0));
        List<?> readSelfish = (List<?>) read[2];
        assertSame(readSelfish, readSelfish.get(0));
    }

    @Test
    void enums_ofTheJdkAndTheTest_readAsTheSameConstants() {
        Object[] values = {DayOfWeek.SUNDAY, Shade.LIGHT, Shade.DARK, torch.ScalarType.BFloat16};

        Object[] read = (Object[]) roundTrip(values);

        assertArrayEquals(values, read);
        assertSame(Shade.DARK, read[2]);
        assertEquals("d", ((Shade) read[2]).code());
    }

    @Test
    void optionals_roundTrip() {
        List<Object> values = List.of(Optional.of("here"), Optional.empty(), OptionalInt.of(3), OptionalInt.empty(),
                Optional.of(List.of(1)));

        assertEquals(values, roundTrip(values));
    }

    @Test
    void atomics_roundTripWithTheirValues() {
        AtomicReference<String> reference = new AtomicReference<>("held");
        Object[] read = (Object[]) roundTrip(new Object[] {reference, new AtomicInteger(3), new AtomicLong(4),
                new AtomicBoolean(true), reference});

        assertEquals("held", ((AtomicReference<?>) read[0]).get());
        assertEquals(3, ((AtomicInteger) read[1]).get());
        assertEquals(4L, ((AtomicLong) read[2]).get());
        assertTrue(((AtomicBoolean) read[3]).get());
        assertSame(read[0], read[4]);
    }

    @Test
    void jdkObjectWithoutAWireForm_isRefusedWhenWritten_namingIt() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.write(List.of(new Random(1)), LOADER, lm));

        assertTrue(error.getMessage().contains("java.util.Random"), error.getMessage());
        assertTrue(error.getMessage().contains("does not travel"), error.getMessage());
    }

    // ---- references to the model ----

    @Test
    void envoysOfTheModel_readAsTheSameEnvoys() {
        Envoy mlp = lm.get("model.layers.3.mlp");
        Object[] values = {lm, mlp, lm.get("lm_head"), lm.generator(), List.of(mlp)};

        Object[] read = (Object[]) roundTrip(values);

        assertSame(lm, read[0]);
        assertSame(mlp, read[1]);
        assertEquals("model.layers.3.mlp", ((Envoy) read[1]).path());
        assertSame(lm.get("lm_head"), read[2]);
        assertSame(lm.generator(), read[3]);
        assertSame(mlp, ((List<?>) read[4]).get(0));
    }

    @Test
    void envoys_bindToTheReadingSidesModel_atTheSamePath() {
        byte[] graph = ValueGraphs.write(new Object[] {lm, lm.get("model.layers.1.self_attn"), lm.tokenizer()}, LOADER, lm);

        Object[] read = (Object[]) ValueGraphs.read(graph, LOADER, otherCopy, LambdaFactory.DESERIALIZE_LAMBDA);

        assertSame(otherCopy, read[0]);
        assertSame(otherCopy.get("model.layers.1.self_attn"), read[1]);
        assertSame(otherCopy.tokenizer(), read[2]);
    }

    @Test
    void tokenizer_readsAsTheModelsTokenizer() {
        assertSame(lm.tokenizer(), roundTrip(lm.tokenizer()));
    }

    @Test
    void sourceOperations_readAsTheModelsOperations() {
        io.nnsight.Source source = lm.get("model.layers.0.self_attn").source();
        io.nnsight.Operation operation = source.operations().get(0);

        Object[] read = (Object[]) roundTrip(new Object[] {source, operation});

        assertSame(lm.get("model.layers.0.self_attn"), ((io.nnsight.Source) read[0]).envoy());
        assertEquals(operation.name(), ((io.nnsight.Operation) read[1]).name());
        assertSame(lm.get("model.layers.0.self_attn"), ((io.nnsight.Operation) read[1]).envoy());
    }

    @Test
    void completedInvoke_readsAsACompletedInvokeOfItsValue() {
        @SuppressWarnings("unchecked")
        Invoke<String> read = (Invoke<String>) roundTrip(Invoke.completed("done"));

        assertEquals("done", read.get());
    }

    @Test
    void envoyOfAnotherModel_isRefused_namingBothModels() {
        NNsight linear = NNsight.wrap(new LinearImpl(2, 2));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.write(List.of(linear.get("")), LOADER, lm));

        assertTrue(error.getMessage().contains("LinearImpl"), error.getMessage());
        assertTrue(error.getMessage().contains(lm.key()), error.getMessage());
        assertTrue(error.getMessage().contains("a job uses one model"), error.getMessage());
    }

    @Test
    void envoyOfAnotherCopyOfTheSameModel_isRefused_sayingItIsAnotherInstance() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.write(new Object[] {otherCopy.get("lm_head")}, LOADER, lm));

        assertTrue(error.getMessage().contains("another"), error.getMessage());
        assertTrue(error.getMessage().contains("a job uses one model"), error.getMessage());
    }

    @Test
    void tokenizerOfAnotherModel_isRefused() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.write(new Object[] {otherCopy.tokenizer()}, LOADER, lm));

        assertTrue(error.getMessage().contains("tokenizer"), error.getMessage());
    }

    @Test
    void envoyPathTheReadingModelLacks_isRefused() {
        byte[] graph = ValueGraphs.write(new Object[] {lm.get("model.layers.4.mlp")}, LOADER, lm);
        NNsight linear = NNsight.wrap(new LinearImpl(2, 2));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.read(graph, LOADER, linear, LambdaFactory.DESERIALIZE_LAMBDA));

        assertTrue(error.getMessage().contains("model.layers.4.mlp"), error.getMessage());
    }

    // ---- limits and malformed graphs ----

    @Test
    void graphDeeperThanTheLimit_isRefusedWhenWritten() {
        Node head = new Node("0");
        Node tail = head;
        for (int i = 1; i < 1000; i++) {
            tail.next = new Node(Integer.toString(i));
            tail = tail.next;
        }
        Node deep = head;

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.write(deep, LOADER, lm));

        assertTrue(error.getMessage().contains("nest deeper than 256 levels"), error.getMessage());
        assertTrue(error.getMessage().length() < 2000, "a short message, not 256 lines of trace: "
                + error.getMessage().length() + " characters");
    }

    @Test
    void graphJustWithinTheDepthLimit_roundTrips() {
        Object[] nested = {};
        for (int i = 0; i < 200; i++) {
            nested = new Object[] {nested};
        }

        Object[] read = (Object[]) roundTrip(nested);

        for (int i = 0; i < 200; i++) {
            read = (Object[]) read[0];
        }
        assertEquals(0, read.length);
    }

    /** Bytes written by a Kryo without the depth limit, in the same layout as ValueGraphs'. */
    private static byte[] unlimited(Object root) {
        Kryo kryo = new Kryo(new DefaultClassResolver(), new MapReferenceResolver());
        kryo.setRegistrationRequired(false);
        kryo.setReferences(true);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Output output = new Output(bytes)) {
            kryo.writeClassAndObject(output, root);
        }
        return bytes.toByteArray();
    }

    @Test
    void graphDeeperThanTheLimit_isRefusedWhenRead() {
        Object[] nested = {};
        for (int i = 0; i < 1000; i++) {
            nested = new Object[] {nested};
        }
        byte[] graph = unlimited(nested);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> read(graph));

        assertTrue(error.getMessage().contains("nest deeper than 256 levels"), error.getMessage());
    }

    @Test
    void twoRoots_shareTheirObjects_andTheFirstIsGivenBeforeTheSecondIsRead() {
        Node shared = new Node("shared");
        Map<String, Object> first = new LinkedHashMap<>(Map.of("field", shared));
        byte[] graph = ValueGraphs.write(first, new Object[] {shared, new Witness()}, LOADER, lm, new GraphClasses());
        Witness.EVENTS.clear();

        Map<?, ?>[] given = new Map<?, ?>[1];
        Object[] second = (Object[]) ValueGraphs.read(graph, LOADER, lm, LambdaFactory.DESERIALIZE_LAMBDA, root -> {
            Witness.EVENTS.add("first given");
            given[0] = (Map<?, ?>) root;
        });

        assertSame(given[0].get("field"), second[0], "one object, as written");
        assertEquals(List.of("first given", "second read"), Witness.EVENTS);
    }

    /** Notes in {@link #EVENTS} when it is read. */
    static final class Witness implements KryoSerializable {
        static final List<String> EVENTS = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void write(Kryo kryo, Output output) {
            // nothing to write: reading it is what counts
        }

        @Override
        public void read(Kryo kryo, Input input) {
            EVENTS.add("second read");
        }
    }

    @Test
    void secondRootMissing_isRefused() {
        byte[] graph = ValueGraphs.write(Map.of("field", 1), LOADER, lm);

        assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.read(graph, LOADER, lm, LambdaFactory.DESERIALIZE_LAMBDA, root -> { }));
    }

    @Test
    void trailingBytes_areRefused() {
        byte[] graph = ValueGraphs.write(List.of(1, 2), LOADER, lm);
        byte[] longer = Arrays.copyOf(graph, graph.length + 3);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> read(longer));

        assertTrue(error.getMessage().contains("3 bytes after its end"), error.getMessage());
    }

    @Test
    void truncatedGraph_isRefused() {
        byte[] graph = ValueGraphs.write(new Labeled("x", List.of(new Point(1, 2)), Map.of()), LOADER, lm);

        for (int length = 0; length < graph.length; length++) {
            byte[] cut = Arrays.copyOf(graph, length);
            assertThrows(IllegalArgumentException.class, () -> read(cut), "cut at " + length);
        }
    }

    @Test
    void className_theLoaderCannotFind_isRefusedNamingIt() {
        byte[] graph = unlimited(new Point(1, 2));
        String name = Point.class.getName();
        byte[] renamed = new String(graph, java.nio.charset.StandardCharsets.ISO_8859_1)
                .replace("ValueGraphsTest$Poi", "ValueGraphsTest$Pxi") // the last letter of a name has its high bit set
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> read(renamed));

        assertTrue(error.getMessage().contains(name.replace("Point", "Pxint")), error.getMessage());
    }

    @Test
    void className_theLoaderRefuses_isRefused_thoughKryosOwnLoaderHasIt() {
        byte[] graph = ValueGraphs.write(List.of(new Point(1, 2)), LOADER, lm);
        ClassLoader jdkOnly = new ClassLoader(null) {};

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.read(graph, jdkOnly, lm, LambdaFactory.DESERIALIZE_LAMBDA));

        assertTrue(error.getMessage().contains(Point.class.getName()), error.getMessage());
    }

    @Test
    void absurdArrayLength_isRefused_withoutAllocatingIt() {
        byte[] graph = unlimited(new long[] {1, 2, 3});
        byte[] prefix = unlimited(new long[0]);
        // the array's length (plus one) is the last varint of an empty array's graph: say 2^31 - 2 elements
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Output output = new Output(bytes)) {
            output.writeBytes(prefix, 0, prefix.length - 1);
            output.writeVarInt(Integer.MAX_VALUE - 1, true);
            output.writeBytes(new byte[16]);
        }

        assertThrows(IllegalArgumentException.class, () -> read(bytes.toByteArray()));
        assertArrayEquals(new long[] {1, 2, 3}, (long[]) read(graph));
    }

    @Test
    void absurdCollectionSize_isRefused_withoutAllocatingIt() {
        byte[] prefix = unlimited(new ArrayList<>());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Output output = new Output(bytes)) {
            output.writeBytes(prefix, 0, prefix.length - 1);
            output.writeVarInt(Integer.MAX_VALUE - 1, true);
            output.writeBytes(new byte[16]);
        }

        assertThrows(IllegalArgumentException.class, () -> read(bytes.toByteArray()));
    }

    @Test
    void absurdStringLength_isRefused_withoutAllocatingIt() {
        byte[] prefix = unlimited("ü");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Output output = new Output(bytes)) {
            // "ü" is written as a UTF-8 string: a flagged varint of its length plus one, then its bytes
            output.writeBytes(prefix, 0, prefix.length - 3);
            output.writeVarIntFlag(true, Integer.MAX_VALUE - 1, true);
            output.writeBytes(new byte[16]);
        }

        assertThrows(IllegalArgumentException.class, () -> read(bytes.toByteArray()));
    }

    @Test
    void lambda_inAGraphThatMayHoldNone_isRefused() {
        java.util.function.Supplier<String> lambda = (java.util.function.Supplier<String> & java.io.Serializable) () -> "x";
        byte[] graph = ValueGraphs.write(List.of(lambda), LOADER, lm);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> ValueGraphs.read(graph, LOADER, lm, null));

        assertTrue(error.getMessage().contains("may not hold lambdas"), error.getMessage());
    }

    @Test
    void tensorsInsideCollectionsAndRecords_roundTrip() {
        record Holder(Tensor tensor, List<Tensor> more) {}
        Tensor a = torch.randn(2);
        Holder holder = new Holder(a, List.of(a, torch.ones(1)));

        Holder read = (Holder) roundTrip(holder);

        assertTrue(a.equal(read.tensor()));
        assertSame(read.tensor(), read.more().get(0));
    }

    @Test
    void graphsWrittenOneAfterAnother_eachHoldOnlyTheirOwnValues_largeThenSmall() {
        long[] large = new Random(9).longs(300_000).toArray(); // past the buffer a pooled Kryo keeps
        List<String> small = List.of("a", "b");

        byte[] first = ValueGraphs.write(small, LOADER, lm);
        byte[] big = ValueGraphs.write(large, LOADER, lm);
        byte[] again = ValueGraphs.write(small, LOADER, lm);

        assertArrayEquals(large, (long[]) read(big));
        assertArrayEquals(first, again);
        assertEquals(small, read(again));
    }

    /** A job's class loader: defines its own copy of each class named, so a pooled Kryo forgets them after each graph. */
    private static final class JobLoader extends ClassLoader {
        private final Set<String> own;

        JobLoader(String... own) {
            super(LOADER);
            this.own = Set.of(own);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!own.contains(name)) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> loaded = findLoadedClass(name);
                if (loaded == null) {
                    try (InputStream in = LOADER.getResourceAsStream(name.replace('.', '/') + ".class")) {
                        byte[] bytes = in.readAllBytes();
                        loaded = defineClass(name, bytes, 0, bytes.length);
                    } catch (IOException e) {
                        throw new ClassNotFoundException(name, e);
                    }
                }
                return loaded;
            }
        }
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void recordsAndEnumsOfEachJobsLoader_roundTrip_withoutKryoProbingSerializerConstructors() throws Exception {
        Path events = Files.createTempFile("value-graphs", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("jdk.JavaExceptionThrow");
            recording.start();
            for (int job = 0; job < 3; job++) {
                ClassLoader loader = new JobLoader(JobPoint.class.getName(), JobShade.class.getName(),
                        JobShade.class.getName() + "$1");
                Class<?> point = loader.loadClass(JobPoint.class.getName());
                Class shade = loader.loadClass(JobShade.class.getName());
                assertNotSame(JobPoint.class, point);
                java.lang.reflect.Constructor<?> make = point.getDeclaredConstructor(int.class, int.class);
                make.setAccessible(true); // another loader's copy is another runtime package
                List<Object> values = List.of(make.newInstance(job, 2), Enum.valueOf(shade, "DARK"),
                        Enum.valueOf(shade, "LIGHT"));

                Object read = ValueGraphs.read(ValueGraphs.write(values, loader, lm), loader, lm,
                        LambdaFactory.DESERIALIZE_LAMBDA);

                assertEquals(values, read);
            }
            recording.stop();
            recording.dump(events);
            List<String> probes = RecordingFile.readAllEvents(events).stream()
                    .filter(event -> event.getClass("thrownClass").getName().equals(NoSuchMethodException.class.getName()))
                    .map(event -> event.getString("message"))
                    .filter(message -> message.contains("RecordSerializer") || message.contains("EnumSerializer"))
                    .toList();
            assertEquals(List.of(), probes);
        } finally {
            Files.deleteIfExists(events);
        }
    }
}
