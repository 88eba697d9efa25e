package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.serializers.ClosureSerializer;
import com.esotericsoftware.kryo.serializers.ImmutableCollectionsSerializers;
import com.esotericsoftware.kryo.util.DefaultClassResolver;
import com.esotericsoftware.kryo.util.DefaultInstantiatorStrategy;
import com.esotericsoftware.kryo.util.MapReferenceResolver;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.Operation;
import io.nnsight.Source;
import io.nnsight.lm.Tokenizer;
import java.io.ByteArrayOutputStream;
import org.bytedeco.pytorch.Tensor;
import org.objenesis.strategy.StdInstantiatorStrategy;

/**
 * The object graphs of remote jobs, written and read with Kryo: a body and the values it captures, inputs,
 * options, static fields, results.
 *
 * <p>Values are written by value with Kryo's serializers (fields, collections, records, lambdas through
 * {@link LambdaSerializer}), with these exceptions: a {@link Tensor} travels as its type, shape and bytes;
 * a model, an envoy, an operation or a tokenizer travels as a reference to the job's model (the one model a job runs on) and is resolved
 * on the other side to the model found there, so weights never travel and a body binds to the model that runs it.
 *
 * <p>Classes are named, never numbered, and resolved through the class loader given: on a server, the
 * job's class loader, which refuses every class that shipped code may not use, so a payload cannot make
 * Kryo instantiate arbitrary classes of the server.
 */
public final class Graphs {
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

    private Graphs() {}

    /**
     * Writes {@code root}, and notes in {@code seen} the class of each object written and the implementation
     * of each lambda: the code a server needs to read it.
     */
    public static byte[] write(Object root, ClassLoader loader, NNsight model, GraphClasses seen) {
        Kryo kryo = kryo(loader, model, seen, null);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Output output = new Output(bytes)) {
            kryo.writeClassAndObject(output, root);
        }
        return bytes.toByteArray();
    }

    /** Writes {@code root}. */
    public static byte[] write(Object root, ClassLoader loader, NNsight model) {
        return write(root, loader, model, new GraphClasses());
    }

    /**
     * Reads a graph written by {@link #write}, resolving classes through {@code loader} and making its lambdas
     * with {@code lambdas}.
     *
     * @throws IllegalArgumentException when the bytes are not a graph, or name a class {@code loader} refuses
     */
    public static Object read(byte[] graph, ClassLoader loader, NNsight model, LambdaFactory lambdas) {
        Kryo kryo = kryo(loader, model, null, lambdas);
        try (Input input = new Input(graph)) {
            Object root = kryo.readClassAndObject(input);
            if (input.position() != graph.length) {
                throw new IllegalArgumentException("the graph has " + (graph.length - input.position())
                        + " bytes after its end");
            }
            return root;
        } catch (KryoException e) {
            throw new IllegalArgumentException("cannot read the values: " + rootCause(e), e);
        }
    }

    private static String rootCause(Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause instanceof ClassNotFoundException ? cause.getMessage() : error.getMessage();
    }

    private static Kryo kryo(ClassLoader loader, NNsight model, GraphClasses seen, LambdaFactory lambdas) {
        Kryo kryo = new Kryo(new StrictClassResolver(seen), new MapReferenceResolver());
        kryo.setClassLoader(loader);
        kryo.setRegistrationRequired(false);
        kryo.setReferences(true);
        kryo.setMaxDepth(MAX_DEPTH);
        kryo.setInstantiatorStrategy(new DefaultInstantiatorStrategy(new StdInstantiatorStrategy()));
        ImmutableCollectionsSerializers.addDefaultSerializers(kryo);
        kryo.addDefaultSerializer(Tensor.class, new TensorSerializer());
        kryo.addDefaultSerializer(Envoy.class, new References.EnvoySerializer(model));
        kryo.addDefaultSerializer(Source.class, new References.SourceSerializer());
        kryo.addDefaultSerializer(Operation.class, new References.OperationSerializer());
        kryo.addDefaultSerializer(Tokenizer.class, new References.TokenizerSerializer(model));
        kryo.addDefaultSerializer(Invoke.class, new References.InvokeSerializer());
        kryo.register(ClosureSerializer.Closure.class, new LambdaSerializer(seen, lambdas));
        return kryo;
    }

    /**
     * Resolves class names through the graph's class loader only (Kryo's own resolver falls back to the
     * loader of Kryo, which on a server sees every server class), and notes the class of every object
     * written, when asked to.
     */
    private static final class StrictClassResolver extends DefaultClassResolver {
        private final GraphClasses seen;

        StrictClassResolver(GraphClasses seen) {
            this.seen = seen;
        }

        @Override
        protected Class getTypeByName(String className) {
            Class type = super.getTypeByName(className);
            if (type != null) {
                return type;
            }
            try {
                return Class.forName(className, false, kryo.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new KryoException(e);
            }
        }

        @Override
        public Registration writeClass(Output output, Class type) {
            if (seen != null && type != null && !kryo.isClosure(type)) {
                seen.instanceOf(type);
            }
            return super.writeClass(output, type);
        }
    }
}
