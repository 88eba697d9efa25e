package io.nnsight.remote.internal.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.io.Serializable;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import java.util.Map;

/**
 * Writes a lambda as its {@link LambdaSpec} and captured values, and makes it again when read.
 *
 * <p>Only serializable lambdas can be written (those whose target type is {@link java.io.Serializable},
 * like {@code TraceBody}): the JDK gives only those a description of their code. How a lambda is made
 * again depends on the side that reads it ({@link LambdaFactory}). A lambda that a factory made
 * on a server (a captured value written back) is written with the spec it was made from.
 */
public final class LambdaSerializer extends Serializer<Object> {
    private final GraphBinding graph;

    LambdaSerializer(GraphBinding graph) {
        this.graph = graph;
    }

    @Override
    public void write(Kryo kryo, Output output, Object lambda) {
        LambdaFactory factory = graph.lambdas();
        GraphClasses seen = graph.seen();
        Map.Entry<LambdaSpec, Object[]> made =
                factory == null ? null : factory.origin(lambda);
        LambdaSpec spec;
        Object[] values;
        if (made != null) {
            spec = made.getKey();
            values = made.getValue();
        } else {
            SerializedLambda form = serializedForm(lambda);
            spec = LambdaSpec.of(form);
            values = new Object[form.getCapturedArgCount()];
            for (int i = 0; i < values.length; i++) {
                values[i] = form.getCapturedArg(i);
            }
        }
        if (seen != null) {
            seen.lambda(spec, lambda.getClass().getClassLoader());
        }
        output.writeString(spec.capturingClass());
        output.writeString(spec.functionalInterface());
        output.writeString(spec.interfaceMethod());
        output.writeString(spec.interfaceMethodType());
        output.writeVarInt(spec.implKind(), true);
        output.writeString(spec.implClass());
        output.writeString(spec.implName());
        output.writeString(spec.implDescriptor());
        output.writeString(spec.instantiatedType());
        output.writeVarInt(spec.capturedCount(), true);
        for (Object value : values) {
            kryo.writeClassAndObject(output, value);
        }
    }

    @Override
    public Object read(Kryo kryo, Input input, Class<?> type) {
        LambdaSpec spec = new LambdaSpec(input.readString(), input.readString(), input.readString(), input.readString(),
                input.readVarInt(true), input.readString(), input.readString(), input.readString(), input.readString(),
                input.readVarInt(true));
        if (spec.capturedCount() > 255) {
            throw new KryoException("a lambda captures at most 255 values, not " + spec.capturedCount());
        }
        Object[] captured = new Object[spec.capturedCount()];
        for (int i = 0; i < captured.length; i++) {
            captured[i] = kryo.readClassAndObject(input);
        }
        LambdaFactory factory = graph.lambdas();
        if (factory == null) {
            throw new KryoException("this graph may not hold lambdas");
        }
        try {
            return factory.create(spec, captured, kryo.getClassLoader());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new KryoException("cannot make the lambda " + spec.implClass().replace('/', '.') + "." + spec.implName()
                    + " again: " + e, e);
        }
    }

    /** The JDK's description of a serializable lambda. */
    public static SerializedLambda serializedForm(Object lambda) {
        try {
            Method writeReplace = lambda.getClass().getDeclaredMethod("writeReplace");
            writeReplace.setAccessible(true);
            return (SerializedLambda) writeReplace.invoke(lambda);
        } catch (NoSuchMethodException e) {
            if (lambda instanceof Serializable) {
                // javac's lambdas of Serializable interfaces have writeReplace; the sandbox's factories make none
                throw new IllegalArgumentException("a lambda of " + interfaceOf(lambda) + " made from shipped code "
                        + "cannot be shipped on, such as the code of edits imported with importEdits: their code lives in "
                        + "a class loader of its own. Imported edits run in this JVM only; to run them on a server, "
                        + "export them from a program that has their source", e);
            }
            throw new IllegalArgumentException("a lambda of " + interfaceOf(lambda) + " cannot be shipped to a server: "
                    + "only lambdas of Serializable interfaces (such as TraceBody) describe their code. Give it a "
                    + "Serializable type, or compute the value before the trace", e);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalArgumentException("cannot read the code of the lambda " + lambda.getClass().getName()
                    + ": " + e, e);
        }
    }

    private static String interfaceOf(Object lambda) {
        Class<?>[] interfaces = lambda.getClass().getInterfaces();
        return interfaces.length == 0 ? lambda.getClass().getName() : interfaces[0].getName();
    }
}
