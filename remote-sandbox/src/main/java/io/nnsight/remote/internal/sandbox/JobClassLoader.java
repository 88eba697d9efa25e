package io.nnsight.remote.internal.sandbox;

import io.nnsight.remote.internal.allowlist.Policy;
import io.nnsight.remote.internal.allowlist.ValueClassLoader;
import io.nnsight.spi.AgentExempt;
import java.io.IOException;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.FieldVisitor;
import org.objectweb.asm.Opcodes;

/**
 * The class loader of one job: it defines the job's shipped classes and hands out, from its parent, only the
 * server classes that shipped code may use.
 *
 * <pre>{@code
 * Map<String, byte[]> prepared = Sandbox.server().prepare(shippedClasses).classes();
 * ClassLoader loader = new JobClassLoader(prepared, NNsight.class.getClassLoader());
 * }</pre>
 *
 * <p>Every class name a job's code resolves goes through {@link #loadClass}: the names in the shipped classes'
 * bytecode, and the names in the request's object graph, which the deserializer resolves through this loader.
 * Names the {@link Sandbox}'s allow-list accepts (and the few classes the JVM links for shipped code, such as
 * the lambda bootstrap) come from the parent, so the job shares the server's {@code Tensor} and {@code NNsight}
 * classes; shipped names are defined here; every other name fails with a {@link ClassNotFoundException} that
 * says why. Thus a crafted object graph cannot make the deserializer instantiate server classes beyond the
 * allow-list. Resources are not available at all.
 *
 * <p>The nnsight agent leaves its classes as they were checked ({@link AgentExempt}).
 *
 * <p>Pitfalls: give it only classes that {@link Sandbox#prepare} returned, never the shipped bytes as they
 * came. The classes the JVM links on shipped code's behalf ({@code java.lang.invoke.MethodHandles$Lookup} and
 * the types of bootstrap signatures) are visible here too: a deserializer resolves classes through {@link
 * #forValues()}, which refuses them.
 */
public final class JobClassLoader extends ClassLoader implements AgentExempt {
    static {
        registerAsParallelCapable();
    }

    private final Map<String, byte[]> classes;
    private final Policy policy;
    private final ClassLoader values;
    /**
     * The static fields of each shipped class defined so far that can change, with their values in a new loader, found
     * once per class ({@link #clearStatics}).
     */
    private final Map<String, Map<Field, Object>> changeable = new HashMap<>();

    /**
     * @param classes the job's prepared classes: binary name (dots) to class file, as {@link Sandbox#prepare}
     *     returned them
     * @param parent the server's class loader that has nnsight and the libraries
     */
    public JobClassLoader(Map<String, byte[]> classes, ClassLoader parent) {
        super("nnsight-job", Objects.requireNonNull(parent, "parent"));
        this.classes = Map.copyOf(classes);
        this.policy = Sandbox.policy(parent);
        this.values = new ValueClassLoader(this, this.classes.keySet(), policy);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        synchronized (getClassLoadingLock(name)) {
            Class<?> type = findLoadedClass(name);
            if (type == null) {
                type = policy.visible(name) ? getParent().loadClass(name) : findClass(name);
            }
            if (resolve) {
                resolveClass(type);
            }
            return type;
        }
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        byte[] classFile = classes.get(name);
        if (classFile == null) {
            throw new ClassNotFoundException(
                    name + " is not available to shipped code: " + policy.type(name).refusal());
        }
        return defineClass(name, classFile, 0, classFile.length);
    }

    /**
     * Sets every static field that can change (every one not {@code final}) of the shipped classes defined so far
     * back to the value it has in a new loader: its constant ({@code ConstantValue}) if it has one, else its default
     * ({@code null}, zero, {@code false}), so that the next job of the same code ({@link LoaderPool}) finds none of
     * the last one's values. Call it only while no code of this loader runs.
     *
     * @throws LinkageError when a class defined here cannot be initialized (its linking failed)
     */
    void clearStatics() {
        for (String name : classes.keySet()) {
            Map<Field, Object> fields = changeable.get(name); // known once the class is: the JVM is asked until then
            if (fields == null) {
                Class<?> type = findLoadedClass(name);
                if (type == null) {
                    continue;
                }
                fields = changeableStatics(type);
                changeable.put(name, fields);
            }
            for (Map.Entry<Field, Object> initial : fields.entrySet()) {
                try {
                    initial.getKey().set(null, initial.getValue());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("a field made accessible refused access: " + initial.getKey(), e);
                }
            }
        }
    }

    /** The static fields of {@code type} that can change, each with the value it has in a new loader. */
    private Map<Field, Object> changeableStatics(Class<?> type) {
        Map<String, Object> constants = new HashMap<>();
        new ClassReader(classes.get(type.getName())).accept(new ClassVisitor(Opcodes.ASM9) {
            @Override
            public FieldVisitor visitField(int access, String name, String descriptor, String signature,
                    Object value) {
                if (value != null) {
                    constants.put(name, value);
                }
                return null;
            }
        }, ClassReader.SKIP_CODE | ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
        Map<Field, Object> fields = new LinkedHashMap<>();
        for (Field field : type.getDeclaredFields()) {
            if (Modifier.isStatic(field.getModifiers()) && !Modifier.isFinal(field.getModifiers())) {
                field.setAccessible(true);
                fields.put(field, initialValue(field.getType(), constants.get(field.getName())));
            }
        }
        return fields;
    }

    /**
     * The value a static field of {@code type} has before code sets it: its {@code constant}, as the class file
     * holds it (an {@code Integer} for every type up to {@code int}), or the type's default.
     */
    private static Object initialValue(Class<?> type, Object constant) {
        if (constant == null) {
            return type.isPrimitive() ? Array.get(Array.newInstance(type, 1), 0) : null;
        }
        if (constant instanceof Integer value) {
            if (type == boolean.class) {
                return value != 0;
            } else if (type == byte.class) {
                return value.byteValue();
            } else if (type == char.class) {
                return (char) value.intValue();
            } else if (type == short.class) {
                return value.shortValue();
            }
        }
        return constant;
    }

    /**
     * This loader as a deserializer should see it ({@link ValueClassLoader}): the same classes, except those
     * the JVM links for shipped code but that shipped code may not name ({@code MethodHandles$Lookup} and its
     * kind), so no value of the request can be one of them.
     */
    public ClassLoader forValues() {
        return values;
    }

    /** Always {@code null}: shipped code gets no resources, neither the server's nor its own. */
    @Override
    public URL getResource(String name) {
        return null;
    }

    /** Always empty: shipped code gets no resources, neither the server's nor its own. */
    @Override
    public Enumeration<URL> getResources(String name) throws IOException {
        return Collections.emptyEnumeration();
    }
}
