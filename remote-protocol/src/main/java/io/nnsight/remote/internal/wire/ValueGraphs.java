package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.KryoSerializable;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.SerializerFactory;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.serializers.ClosureSerializer;
import com.esotericsoftware.kryo.serializers.DefaultSerializers;
import com.esotericsoftware.kryo.serializers.FieldSerializer;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers;
import com.esotericsoftware.kryo.serializers.RecordSerializer;
import com.esotericsoftware.kryo.util.DefaultClassResolver;
import com.esotericsoftware.kryo.util.DefaultInstantiatorStrategy;
import com.esotericsoftware.kryo.util.MapReferenceResolver;
import com.esotericsoftware.kryo.util.Pool;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.Operation;
import io.nnsight.Source;
import io.nnsight.lm.Tokenizer;
import java.lang.reflect.InaccessibleObjectException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.objenesis.strategy.StdInstantiatorStrategy;

/**
 * The object graphs of remote jobs, written and read with Kryo: a body and the values it captures, inputs,
 * options, static fields, results.
 *
 * <p>Values are written by value with Kryo's serializers (fields, collections, records, lambdas through
 * {@link LambdaSerializer}), with these exceptions: a {@link Tensor} travels as its type, shape and bytes,
 * and no other native object travels at all (a JavaCPP {@link Pointer} is an address in one process's memory;
 * read from a request, it would let the request choose what memory the server reads and writes);
 * a model, an envoy, an operation or a tokenizer travels as a reference to the job's model (the one model a
 * job runs on), resolved on the other side to the model found there, so weights never travel and a body
 * binds to the model that runs it.
 *
 * <p>Classes are named, never numbered, and resolved through the class loader given: on a server, the
 * job's class loader, which refuses every class that shipped code may not use, so a payload cannot make
 * Kryo instantiate arbitrary classes of the server.
 */
public final class ValueGraphs {
    /** How deep a graph may nest: deeper graphs are refused rather than overflowing the stack. */
    private static final int MAX_DEPTH = 256;

    static {
        // Kryo reads fields through sun.misc.Unsafe unless told not to, and Java 23+ warns about that on the
        // console of every client and server; reflection is fast enough for job graphs. An explicit
        // -Dkryo.unsafe (or a Kryo initialized earlier by the application) wins.
        if (System.getProperty("kryo.unsafe") == null) {
            System.setProperty("kryo.unsafe", "false");
        }
    }

    /** The class loader of nnsight and its libraries: the classes whose serializers a pooled Kryo keeps. */
    private static final ClassLoader SHARED = ValueGraphs.class.getClassLoader();

    /**
     * Kryos reused from graph to graph, for every graph read or written: making a Kryo and registering its
     * serializers costs more than reading or writing a small job's graph. Each graph binds one to its class loader,
     * model, lambdas and record of classes written, and unbinds it after; a pooled Kryo forgets every class of
     * another class loader when its graph ends ({@link StrictClassResolver#reset}), so the serializers of one job's
     * classes never serve another job. One whose graph failed is dropped.
     */
    private static final Pool<Pooled> POOL = new Pool<>(true, true, 8) {
        @Override
        protected Pooled create() {
            GraphBinding binding = new GraphBinding();
            Kryo kryo = kryo(new StrictClassResolver(binding), binding);
            kryo.setClassLoader(SHARED);
            return new Pooled(kryo, binding, new Output(OUTPUT_BYTES, -1));
        }
    };

    private ValueGraphs() {}

    /** The buffer a pooled Kryo starts writing into, and the largest it keeps after a large graph (1 MiB). */
    private static final int OUTPUT_BYTES = 4096;
    private static final int KEPT_OUTPUT_BYTES = 1 << 20;

    /** A pooled Kryo, what its serializers are bound to, and the buffer it writes graphs into. */
    private record Pooled(Kryo kryo, GraphBinding binding, Output output) {}

    /**
     * Writes {@code root}, and notes in {@code seen} the class of each object written and the implementation
     * of each lambda: the code a server needs to read it.
     *
     * @throws IllegalArgumentException when a value cannot travel, saying which and why
     */
    public static byte[] write(Object root, ClassLoader loader, NNsight model, GraphClasses seen) {
        return pooled(loader, model, null, seen, pooled -> write(pooled, root));
    }

    /**
     * Writes {@code first} and then {@code then} as one graph, in which an object both reach is written once, and
     * notes in {@code seen} what {@link #write(Object, ClassLoader, NNsight, GraphClasses)} notes: a reader ({@link
     * #read(byte[], ClassLoader, NNsight, LambdaFactory, Consumer)}) can act on the first before it reads the
     * second, as a server sets static fields before it reads the values that use them.
     *
     * @throws IllegalArgumentException when a value cannot travel, saying which and why
     */
    public static byte[] write(Object first, Object then, ClassLoader loader, NNsight model, GraphClasses seen) {
        return pooled(loader, model, null, seen, pooled -> write(pooled, first, then));
    }

    /** Writes {@code root}. */
    public static byte[] write(Object root, ClassLoader loader, NNsight model) {
        return write(root, loader, model, new GraphClasses());
    }

    /**
     * Writes {@code root}, a job's result on a server: the lambdas {@code made} made are written with the
     * specs they were made from.
     */
    public static byte[] write(Object root, ClassLoader loader, NNsight model, LambdaFactory made) {
        return pooled(loader, model, made, null, pooled -> write(pooled, root));
    }

    /** Writes {@code roots} in order as one graph. */
    private static byte[] write(Pooled pooled, Object... roots) {
        Output output = pooled.output();
        output.reset();
        Kryo kryo = pooled.kryo();
        kryo.setAutoReset(false); // the roots share one graph's references
        try {
            for (Object root : roots) {
                kryo.writeClassAndObject(output, root);
            }
        } catch (KryoException e) {
            throw new IllegalArgumentException("cannot write the values: " + brief(e.getMessage()), e);
        } catch (InaccessibleObjectException e) {
            // Kryo writes a class without a serializer of its own field by field: the JDK's classes refuse that
            throw new IllegalArgumentException("cannot write the values: one of them is of a JDK class that does not "
                    + "travel (" + e.getMessage() + "). Values travel as collections, maps, arrays, records, strings, "
                    + "numbers, atomics, tensors and objects of your own classes", e);
        } finally {
            kryo.reset();
            kryo.setAutoReset(true);
        }
        byte[] bytes = output.toBytes();
        if (output.getBuffer().length > KEPT_OUTPUT_BYTES) {
            output.setBuffer(new byte[OUTPUT_BYTES], -1);
        }
        return bytes;
    }

    /**
     * Reads a graph written by {@link #write}, resolving classes through {@code loader} and making its lambdas
     * with {@code lambdas}.
     *
     * @throws IllegalArgumentException when the bytes are not a graph, or name a class {@code loader} refuses
     */
    public static Object read(byte[] graph, ClassLoader loader, NNsight model, LambdaFactory lambdas) {
        return pooled(loader, model, lambdas, null, pooled -> read(pooled.kryo(), graph, null));
    }

    /**
     * Reads a graph of two roots written by {@link #write(Object, Object, ClassLoader, NNsight, GraphClasses)}:
     * gives the first to {@code first} before it reads the second, which it returns.
     *
     * @throws IllegalArgumentException when the bytes are not such a graph, name a class {@code loader} refuses, or
     *     {@code first} refuses the first root
     */
    public static Object read(byte[] graph, ClassLoader loader, NNsight model, LambdaFactory lambdas,
            Consumer<Object> first) {
        return pooled(loader, model, lambdas, null, pooled -> read(pooled.kryo(), graph, first));
    }

    /**
     * Does {@code work} with a pooled Kryo bound to {@code loader}, {@code model}, {@code lambdas} and {@code seen}
     * (where a writer notes the classes it writes; null when reading) for one graph, and unbinds it after; it goes
     * back to the pool only if {@code work} succeeded.
     */
    private static <T> T pooled(ClassLoader loader, NNsight model, LambdaFactory lambdas, GraphClasses seen,
            Function<Pooled, T> work) {
        Pooled pooled = POOL.obtain();
        pooled.binding().bind(model, lambdas, seen);
        pooled.kryo().setClassLoader(loader);
        boolean reusable = false;
        try {
            T result = work.apply(pooled);
            reusable = true;
            return result;
        } finally {
            pooled.binding().bind(null, null, null);
            pooled.kryo().setClassLoader(SHARED);
            if (reusable) {
                POOL.free(pooled);
            }
        }
    }

    /** Reads the graph's root, or with {@code first} its first root, given to it, and then its second. */
    private static Object read(Kryo kryo, byte[] graph, Consumer<Object> first) {
        kryo.setAutoReset(false); // the roots share one graph's references
        try (Input input = new CountChecks.BoundedInput(graph)) {
            Object root = kryo.readClassAndObject(input);
            if (first != null) {
                first.accept(root);
                root = kryo.readClassAndObject(input);
            }
            if (input.position() != graph.length) {
                throw new IllegalArgumentException("the graph has " + (graph.length - input.position())
                        + " bytes after its end");
            }
            return root;
        } catch (KryoException e) {
            throw new IllegalArgumentException("cannot read the values: " + rootCause(e), e);
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            // what Kryo's serializers throw on bytes they cannot make sense of, outside an object's fields
            throw new IllegalArgumentException("cannot read the values: " + e, e);
        } finally {
            kryo.reset();
            kryo.setAutoReset(true);
        }
    }

    private static String rootCause(Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause instanceof ClassNotFoundException ? cause.getMessage() : brief(error.getMessage());
    }

    /** Kryo's message, with its serialization trace (a line per level: 256 at the depth limit) cut short. */
    private static String brief(String message) {
        String text = String.valueOf(message);
        if (text.startsWith("Max depth exceeded")) {
            text = "the values nest deeper than " + MAX_DEPTH + " levels, the most a graph may; ship long chains of "
                    + "objects as lists or arrays (" + text + ")";
        }
        List<String> lines = text.lines().collect(Collectors.toList());
        int kept = 8;
        return lines.size() <= kept + 2 ? text
                : String.join("\n", lines.subList(0, kept)) + "\n... (" + (lines.size() - kept) + " more lines)";
    }

    /** A Kryo configured for graphs, whose model-bound serializers refer to {@code binding}. */
    private static Kryo kryo(DefaultClassResolver classes, GraphBinding binding) {
        Kryo kryo = new Kryo(classes, new MapReferenceResolver()) {
            @Override
            @SuppressWarnings("rawtypes")
            public Serializer getDefaultSerializer(Class type) {
                if (UnmodifiableSerializer.handles(type)) {
                    return new UnmodifiableSerializer();
                }
                return CountChecks.serializer(this, type, super.getDefaultSerializer(type));
            }

            @Override
            @SuppressWarnings("rawtypes")
            public boolean isClosure(Class type) {
                return super.isClosure(type) || LambdaFactory.isMadeLambda(type);
            }
        };
        kryo.setRegistrationRequired(false);
        kryo.setReferences(true);
        kryo.setMaxDepth(MAX_DEPTH);
        kryo.setInstantiatorStrategy(new DefaultInstantiatorStrategy(new StdInstantiatorStrategy()));
        // the captured values of anonymous and local classes are synthetic fields (val$layer), which Kryo skips
        FieldSerializer.FieldSerializerConfig fields = new FieldSerializer.FieldSerializerConfig();
        fields.setIgnoreSyntheticFields(false);
        kryo.setDefaultSerializer(new SerializerFactory.FieldSerializerFactory(fields));
        // Kryo makes the serializer of its built-in kinds by trying the serializer's constructors in turn, throwing
        // and catching a NoSuchMethodException for each miss; a pooled Kryo meets each job's own records and enums
        // afresh (it forgets them when the job's graph ends), so these are made directly. Added first, they stay
        // behind every entry added below; a KryoSerializable one keeps Kryo's choice.
        kryo.addDefaultSerializer(Record.class, direct(RecordSerializer::new));
        kryo.addDefaultSerializer(Enum.class, direct(DefaultSerializers.EnumSerializer::new));
        ImmutableCollectionsSerializers.addDefaultSerializers(kryo);
        kryo.addDefaultSerializer(AtomicBoolean.class, new DefaultSerializers.AtomicBooleanSerializer());
        kryo.addDefaultSerializer(AtomicInteger.class, new DefaultSerializers.AtomicIntegerSerializer());
        kryo.addDefaultSerializer(AtomicLong.class, new DefaultSerializers.AtomicLongSerializer());
        kryo.addDefaultSerializer(AtomicReference.class, new DefaultSerializers.AtomicReferenceSerializer());
        kryo.addDefaultSerializer(Tensor.class, new TensorSerializer());
        kryo.addDefaultSerializer(Pointer.class, new NativeObjectRefusal());
        kryo.addDefaultSerializer(Envoy.class, new References.EnvoySerializer(binding));
        kryo.addDefaultSerializer(Source.class, new References.SourceSerializer());
        kryo.addDefaultSerializer(Operation.class, new References.OperationSerializer());
        kryo.addDefaultSerializer(Tokenizer.class, new References.TokenizerSerializer(binding));
        kryo.addDefaultSerializer(Invoke.class, new References.InvokeSerializer());
        kryo.register(ClosureSerializer.Closure.class, new LambdaSerializer(binding));
        return kryo;
    }

    /** A factory that makes a serializer by calling {@code make} with the type, unless the type is KryoSerializable. */
    @SuppressWarnings({"rawtypes", "unchecked"})
    private static SerializerFactory<Serializer> direct(Function<Class, Serializer> make) {
        return new SerializerFactory.BaseSerializerFactory<>() {
            @Override
            public Serializer newSerializer(Kryo kryo, Class type) {
                return make.apply(type);
            }

            @Override
            public boolean isSupported(Class type) {
                return !KryoSerializable.class.isAssignableFrom(type);
            }
        };
    }

    /**
     * Refuses every native object other than a tensor (whose serializer comes first for tensors), before any
     * is made: such an object is an address, meaningless in another process and dangerous from a request.
     */
    private static final class NativeObjectRefusal extends Serializer<Pointer> {
        @Override
        public void write(Kryo kryo, Output output, Pointer pointer) {
            throw new KryoException("a native object of " + pointer.getClass().getName() + " cannot travel: only "
                    + "tensors do. Capture the Java values it is made from (a double for a Scalar, a long[] for a "
                    + "LongArrayRef) and make it in the body");
        }

        @Override
        public Pointer read(Kryo kryo, Input input, Class<? extends Pointer> type) {
            throw new KryoException("the values hold a native object of " + type.getName() + ": only tensors travel "
                    + "as native values");
        }
    }

    /**
     * Resolves the class names of a graph through the class loader given, and only through it: Kryo's own
     * resolver falls back to Kryo's class loader for a name the given one refuses, which on a server would
     * bypass the job's class loader and its allow-list. It never remembers a name (Kryo's would, from graph to
     * graph, handing one job's class to the next), and at the end of each graph it forgets the registrations, and
     * with them the serializers, of every class that nnsight's class loader and the JDK's do not define. Writing,
     * it notes the class of every object written in the graph's {@link GraphBinding#seen()}, when bound to one.
     */
    private static final class StrictClassResolver extends DefaultClassResolver {
        private final GraphBinding binding;

        StrictClassResolver(GraphBinding binding) {
            this.binding = binding;
        }

        @Override
        @SuppressWarnings("rawtypes")
        public Registration writeClass(Output output, Class type) {
            GraphClasses seen = binding.seen();
            if (seen != null && type != null && !kryo.isClosure(type)) {
                seen.instanceOf(type);
            }
            return super.writeClass(output, type);
        }

        /**
         * The class of the name, from the class loader given: asked in Java, not through the JVM ({@code
         * Class.forName}), which records the loader as one that looked the class up and so makes the JVM's data of a
         * class loader for each new loader a graph is read through (a client reads each result through a new one).
         * Array names, which class loaders do not resolve, go through {@code Class.forName}.
         */
        @Override
        @SuppressWarnings("rawtypes")
        protected Class getTypeByName(String className) {
            ClassLoader loader = kryo.getClassLoader();
            try {
                return className.startsWith("[") ? Class.forName(className, false, loader)
                        : loader.loadClass(className);
            } catch (ClassNotFoundException e) {
                throw new KryoException("Unable to find class: " + className, e);
            }
        }

        @Override
        @SuppressWarnings("rawtypes")
        public void reset() {
            super.reset();
            List<Class> others = new ArrayList<>();
            for (Class type : classToRegistration.keys()) {
                if (!shared(type)) {
                    others.add(type);
                }
            }
            if (!others.isEmpty()) {
                others.forEach(classToRegistration::remove);
                // this resolver remembers the last class looked up, in a field of Kryo's: make that a shared one
                kryo.getRegistration(Object.class);
                getRegistration(Object.class);
            }
        }

        private static boolean shared(Class<?> type) {
            ClassLoader loader = type.getClassLoader();
            return loader == null || loader == SHARED || loader == ClassLoader.getPlatformClassLoader();
        }
    }
}
