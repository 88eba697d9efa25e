package io.nnsight.remote.internal.allowlist;

import java.lang.invoke.MethodType;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The classes of the server, as seen from one class loader: whether a class exists, its superclasses, and the
 * members it declares.
 *
 * <p>Classes are loaded without being initialized ({@code Class.forName(name, false, loader)}), so looking at
 * a class runs none of its code: not even the static initializer of {@code org.bytedeco.pytorch.global.torch},
 * which loads libtorch. Members are read by reflection, which for a JDK class means "as this JVM has it":
 * that is how a class compiled for a newer JDK is found to use a method this server's JDK lacks.
 *
 * <p>The answers for up to {@value #REMEMBERED} names are remembered; names beyond are looked up every time. The
 * names come from requests and one instance serves every job, so the memory must not grow with what hostile
 * requests ask about (array names alone, {@code [[Ljava.lang.String;} and deeper, make many classes that
 * exist).
 */
public final class ServerClasses {
    /** How many names an instance remembers the answer for. */
    static final int REMEMBERED = 1 << 14;

    /** What each class declares: fields as {@code name:descriptor}, methods and constructors as name and descriptor. */
    private static final ClassValue<Set<String>> DECLARED = new ClassValue<>() {
        @Override
        protected Set<String> computeValue(Class<?> type) {
            Set<String> members = new HashSet<>();
            for (Field field : type.getDeclaredFields()) {
                members.add(field.getName() + ':' + field.getType().descriptorString());
            }
            for (Method method : type.getDeclaredMethods()) {
                members.add(method.getName() + MethodType.methodType(method.getReturnType(), method.getParameterTypes()).descriptorString());
            }
            for (Constructor<?> constructor : type.getDeclaredConstructors()) {
                members.add("<init>" + MethodType.methodType(void.class, constructor.getParameterTypes()).descriptorString());
            }
            return Set.copyOf(members);
        }
    };

    private final ClassLoader loader;
    private final int remembered;
    private final Map<String, Optional<Class<?>>> classes = new ConcurrentHashMap<>();

    /** The classes that {@code loader} loads. */
    public ServerClasses(ClassLoader loader) {
        this(loader, REMEMBERED);
    }

    /** The classes that {@code loader} loads, remembering the answers for up to {@code remembered} names. */
    ServerClasses(ClassLoader loader, int remembered) {
        this.loader = loader;
        this.remembered = remembered;
    }

    /** The server's class of this binary name, or empty when the server has none (or cannot link it). */
    public Optional<Class<?>> find(String className) {
        Optional<Class<?>> known = classes.get(className);
        if (known != null) {
            return known;
        }
        Optional<Class<?>> found = load(className);
        if (classes.size() < remembered) {
            classes.put(className, found);
        }
        return found;
    }

    /** How many names' answers are remembered. */
    int rememberedNames() {
        return classes.size();
    }

    /** Whether {@code className} names {@code superclassName} or one of its subclasses. */
    public boolean isSubclass(String className, String superclassName) {
        for (Class<?> type = find(className).orElse(null); type != null; type = type.getSuperclass()) {
            if (type.getName().equals(superclassName)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code type} itself declares the field or method (constructors are methods named {@code <init>}). */
    public static boolean declares(Class<?> type, String name, String descriptor, boolean field) {
        return DECLARED.get(type).contains(field ? name + ':' + descriptor : name + descriptor);
    }

    /** Whether the JDK provides {@code type}, rather than the server's application or its libraries. */
    public static boolean isJdk(Class<?> type) {
        ClassLoader definer = type.getClassLoader();
        return definer == null || definer == ClassLoader.getPlatformClassLoader();
    }

    private Optional<Class<?>> load(String className) {
        try {
            return Optional.of(Class.forName(className, false, loader));
        } catch (ClassNotFoundException | LinkageError absent) {
            return Optional.empty();
        }
    }
}
