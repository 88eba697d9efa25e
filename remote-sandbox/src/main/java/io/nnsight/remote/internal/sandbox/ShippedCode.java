package io.nnsight.remote.internal.sandbox;

import io.nnsight.NNsight;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.Packing;
import io.nnsight.remote.internal.wire.ValueGraphs;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The code of an {@link Envelope} (a job's request, or a file of exported edits), loaded: its classes checked
 * by the {@link Sandbox} and defined in a {@link JobClassLoader} of their own, with the factories of its lambdas
 * ({@link LambdaFactories}); then {@linkplain #values its values} read in that loader, once the static fields of
 * its classes are set to the values they had where they were packed ({@link Packing}).
 *
 * <pre>{@code
 * ShippedCode code = ShippedCode.load(Sandbox.server(), envelope);   // nothing defined if refused
 * Object[] values = code.values(model, 5, "a job's [input, options, body, edits, renames]");
 * byte[] result = ...;                                                // run the job, write its result
 * code.recycle();                                                     // it succeeded: the next job may take the loader
 * }</pre>
 *
 * <p>Pitfall: reading the values may run shipped code (an enum's initializer); a server reads them within the
 * job's time limit.
 */
public final class ShippedCode {
    private final Envelope envelope;
    private final LambdaFactories lambdas;
    private final Sandbox sandbox;
    private final Sandbox.Prepared prepared;
    private final JobClassLoader loader;
    private boolean recycled;

    private ShippedCode(Envelope envelope, LambdaFactories lambdas, Sandbox sandbox, Sandbox.Prepared prepared) {
        this.envelope = envelope;
        this.lambdas = lambdas;
        this.sandbox = sandbox;
        this.prepared = prepared;
        this.loader = sandbox.loader(prepared);
    }

    /**
     * Checks the envelope's classes and defines them in a class loader of the job's own, whose parent is nnsight's:
     * a new one, or one that a job of the same code {@linkplain #recycle gave back}.
     *
     * @throws IllegalArgumentException when its lambdas are not implemented by its classes as it says
     * @throws SandboxException when a class is refused; then no class has been defined
     */
    public static ShippedCode load(Sandbox sandbox, Envelope envelope) {
        LambdaFactories lambdas = LambdaFactories.of(envelope.lambdas(), envelope.classes().keySet());
        return new ShippedCode(envelope, lambdas, sandbox, sandbox.prepare(envelope.classes(), lambdas));
    }

    /**
     * Gives the class loader back for the next job of the same code ({@link Sandbox#recycle}), once none of this
     * job's code runs any more and nothing of it failed: its result is written, or it goes on elsewhere before any of
     * its code ran or after its values were read; never after a failure (a class whose linking failed stays failed
     * in its loader). Nothing may use this code, its loader or its values after. Calls after the first do nothing.
     */
    public void recycle() {
        if (!recycled) {
            recycled = true;
            sandbox.recycle(prepared, loader);
        }
    }

    /**
     * Reads the envelope's value graph for {@code model} ({@link Packing}): first the map of static field values,
     * which it sets, then the values, an array of {@code length}, which it returns. The fields are set before the
     * values are read, since reading an enum's constant runs the enum's initializer, which may use them; the
     * fields of enums are set last, after those their initializers may use.
     *
     * @param expected what the values must be, for the error, such as {@code "a job's [input, options, body, edits,
     *     renames]"}
     * @throws IllegalArgumentException when the graph cannot be read, is not the static fields and {@code expected},
     *     or sets a field that is not a static field of a class it ships
     */
    public Object[] values(NNsight model, int length, String expected) {
        Object root = ValueGraphs.read(envelope.graph(), loader.forValues(), model, lambdas, statics -> {
            if (!(statics instanceof Map<?, ?> map)) {
                throw new IllegalArgumentException("the graph does not start with the static fields' values (an "
                        + "older nnsight 0.1 client writes them last: update it), so it is not " + expected);
            }
            setStatics(map);
        });
        if (!(root instanceof Object[] values) || values.length != length) {
            throw new IllegalArgumentException("the values are not " + expected);
        }
        return values;
    }

    /** The factories of the lambdas, which know what each lambda they made captured. */
    public LambdaFactories lambdas() {
        return lambdas;
    }

    /** The class loader of the code. */
    public JobClassLoader loader() {
        return loader;
    }

    /**
     * Whether the code references a member through which it can use autograd ({@link Sandbox.Prepared}); code that
     * does not cannot tell whether autograd is on.
     */
    public boolean usesAutograd() {
        return prepared.usesAutograd();
    }

    /** The binary names of the classes shipped. */
    public Set<String> classNames() {
        return envelope.classes().keySet();
    }

    /**
     * Sets the static fields of shipped classes to the values they had where the code was packed: first those of
     * classes other than enums, which have no initializer on the server, then those of enums, whose initializers
     * (run as their fields are set) see the others' values.
     */
    private void setStatics(Map<?, ?> statics) {
        Map<Field, Object> enums = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : statics.entrySet()) {
            String key = String.valueOf(entry.getKey());
            int hash = key.indexOf('#');
            String owner = hash < 0 ? "" : key.substring(0, hash).replace('/', '.');
            if (!classNames().contains(owner)) {
                throw new IllegalArgumentException("the values set the static field " + key + " of a class that does "
                        + "not ship with them");
            }
            Field field;
            try {
                field = Class.forName(owner, false, loader).getDeclaredField(key.substring(hash + 1));
            } catch (ReflectiveOperationException | LinkageError e) {
                throw new IllegalArgumentException("cannot set the static field " + key + ": " + e, e);
            }
            if (!Modifier.isStatic(field.getModifiers())) {
                throw new IllegalArgumentException("the values set " + key + ", which is not a static field");
            }
            if (field.getDeclaringClass().isEnum()) {
                enums.put(field, entry.getValue());
            } else {
                set(field, entry.getValue());
            }
        }
        enums.forEach(ShippedCode::set);
    }

    private static void set(Field field, Object value) {
        try {
            field.setAccessible(true);
            field.set(null, value);
        } catch (IllegalAccessException | RuntimeException e) {
            throw new IllegalArgumentException("cannot set the static field " + field.getDeclaringClass().getName()
                    + "#" + field.getName() + ": " + e, e);
        }
    }
}
