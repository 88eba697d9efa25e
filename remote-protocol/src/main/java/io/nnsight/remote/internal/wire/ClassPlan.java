package io.nnsight.remote.internal.wire;

import io.nnsight.spi.NnsightPackages;
import java.lang.reflect.Field;
import java.net.URL;
import java.security.CodeSource;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Which class files a job ships, and what they hold: the application's classes that the body's graph and
 * code need, as nnsight 0.6 ships the user's functions by value.
 *
 * <p>An <em>application class</em> is one the server cannot have: not the JDK's, not nnsight's ({@link
 * NnsightPackages}), not a library jar's (unless its package is {@linkplain #register registered}), but one
 * from a directory (an IDE's or Maven's output), the main jar of {@code java -jar}, or defined in memory
 * ({@code jshell}, {@code java Foo.java}). Application classes are shipped in two ways:
 *
 * <ul>
 *   <li><b>whole</b>: a class with instances in the graph, or that shipped code instantiates, casts to,
 *       calls instance methods of or extends; all its methods ship, and what they use, transitively;
 *   <li><b>sliced</b>: a class reached only through static code (typically the class that holds the body's
 *       lambda: a test class, a {@code main} class); only the static methods the body reaches ship, and the
 *       static fields they use, so a test class does not drag its test framework along.
 * </ul>
 *
 * <p>Static fields travel by value, like the globals of a pickled Python function: a shipped class has no
 * static initializer on the server (enums excepted), and the fields the shipped code reads are set to
 * their values in this JVM ({@link #staticFields()}) before the job's values are read. An enum's initializer
 * ships, since it makes the constants; it runs on the server once the other classes' fields are set, and the
 * enum's fields that are not final are then set too.
 */
public final class ClassPlan {
    private static final List<String> REGISTERED = new CopyOnWriteArrayList<>();
    private static final String MAIN_JAR = mainJar();
    private static final int PLANS_PER_CLASS = 16;
    /**
     * Plans already made, by their roots, kept with the first class the roots ship: a class that changes is a new
     * class (a new class loader's, in {@code jshell} or a reloading server), so its plans are made afresh, and
     * they go when the class does.
     */
    private static final ClassValue<Map<Roots, ClassPlan>> PLANS = new ClassValue<>() {
        @Override
        protected Map<Roots, ClassPlan> computeValue(Class<?> type) {
            return Collections.synchronizedMap(new LinkedHashMap<>(PLANS_PER_CLASS, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<Roots, ClassPlan> eldest) {
                    return size() > PLANS_PER_CLASS;
                }
            });
        }
    };

    private final ClassLoader loader;
    private final Map<String, byte[]> classFiles;
    private final Map<String, Set<String>> staticFields;

    private ClassPlan(ClassLoader loader, Map<String, byte[]> classFiles, Map<String, Set<String>> staticFields) {
        this.loader = loader;
        this.classFiles = Collections.unmodifiableMap(classFiles);
        this.staticFields = Collections.unmodifiableMap(staticFields);
    }

    /** Ships the classes of every package under {@code prefix} too, though they come from a library jar. */
    public static void register(String prefix) {
        REGISTERED.add(Objects.requireNonNull(prefix, "prefix"));
    }

    /**
     * Plans the classes a graph needs: those of its objects, and the code of its lambdas. Each job of a client
     * has the same roots, so the plan of the same roots is made once and reused: the class files are read, walked
     * and written once, not per job (the static fields' values are read per job, {@link #staticValue}).
     *
     * @param loader loads the classes the graph's code names
     */
    static ClassPlan of(GraphClasses graph, ClassLoader loader) {
        Set<Class<?>> instances = new LinkedHashSet<>();
        for (Class<?> type : graph.instances()) {
            if (ships(type)) {
                instances.add(type);
            }
        }
        Roots roots = new Roots(loader, REGISTERED.size(), instances, new LinkedHashSet<>(graph.lambdas().keySet()));
        Class<?> anchor = roots.anchor();
        if (anchor == null) {
            return roots.plan();
        }
        Map<Roots, ClassPlan> plans = PLANS.get(anchor);
        ClassPlan plan = plans.get(roots);
        if (plan == null) {
            plan = roots.plan(); // outside the map's lock: planning loads classes
            plans.put(roots, plan);
        }
        return plan;
    }

    /** Whether the server needs {@code type}'s class file from us. */
    public static boolean ships(Class<?> type) {
        if (type.isArray() || type.isPrimitive() || type.isHidden()) {
            return false;
        }
        ClassLoader loader = type.getClassLoader();
        if (loader == null || loader == ClassLoader.getPlatformClassLoader()) {
            return false;
        }
        String name = type.getName();
        for (String prefix : REGISTERED) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        CodeSource source = type.getProtectionDomain().getCodeSource();
        URL location = source == null ? null : source.getLocation();
        if (location == null || !location.getProtocol().equals("file")) {
            return true;
        }
        if (NnsightPackages.contains(name.replace('.', '/'), location)) {
            return false;
        }
        String path = location.getPath();
        return !path.endsWith(".jar") || (MAIN_JAR != null && path.endsWith("/" + MAIN_JAR));
    }

    /**
     * The class files to ship, by binary name ({@code com.example.Probe}): whole or sliced as planned,
     * without static initializers (enums keep theirs) and with static fields no longer final, so the server
     * can set them. The arrays are shared by every job of the same plan: read them, do not change them.
     */
    Map<String, byte[]> classFiles() {
        return classFiles;
    }

    /**
     * The static fields of shipped classes that shipped code uses, by owner (internal name) and field name:
     * their values travel with the job. Of an enum, only those that are not final.
     */
    Map<String, Set<String>> staticFields() {
        return staticFields;
    }

    /** The current value of a static field of a shipped class in this JVM. */
    Object staticValue(String owner, String name) {
        try {
            Field field = Class.forName(owner.replace('/', '.'), true, loader).getDeclaredField(name);
            field.setAccessible(true);
            return field.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalArgumentException("cannot read the static field " + owner.replace('/', '.') + "." + name
                    + ", which the shipped code uses: " + e, e);
        }
    }

    /**
     * What a plan starts from: the shipped classes of a graph's objects and the graph's lambdas, the class loader
     * that resolves the names their code uses, and how many packages were {@linkplain #register registered} (a
     * registration can make more classes ship).
     */
    private record Roots(ClassLoader loader, int registered, Set<Class<?>> instances, Set<LambdaSpec> lambdas) {
        /** A class the plan ships, to keep the plan with; {@code null} when it ships none. */
        Class<?> anchor() {
            if (!instances.isEmpty()) {
                return instances.iterator().next();
            }
            for (LambdaSpec lambda : lambdas) {
                try {
                    Class<?> owner = Class.forName(lambda.implClass().replace('/', '.'), false, loader);
                    if (ships(owner)) {
                        return owner;
                    }
                } catch (ClassNotFoundException | LinkageError e) {
                    // the walk leaves it out; Packing says why the lambda cannot ship
                }
            }
            return null;
        }

        ClassPlan plan() {
            ClassWalk walk = new ClassWalk(loader);
            for (Class<?> type : instances) {
                walk.refer(Type.getInternalName(type));
            }
            for (LambdaSpec spec : lambdas) {
                if (spec.implKind() == Opcodes.H_INVOKESTATIC) {
                    walk.reach(spec.implClass(), spec.implName() + spec.implDescriptor());
                } else {
                    walk.refer(spec.implClass());
                }
            }
            walk.run();
            return new ClassPlan(loader, walk.classFiles(), walk.staticFields());
        }
    }

    /** The jar of {@code java -jar app.jar}, whose classes are the application's own. */
    private static String mainJar() {
        String command = System.getProperty("sun.java.command", "").trim();
        String first = command.isEmpty() ? "" : command.split("\\s+")[0];
        return first.endsWith(".jar") ? first.substring(first.lastIndexOf('/') + 1) : null;
    }
}
