package io.nnsight.remote.internal.sandbox;

import java.lang.invoke.CallSite;
import java.lang.invoke.ConstantCallSite;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.StringConcatException;
import java.lang.invoke.StringConcatFactory;
import java.lang.invoke.TypeDescriptor;
import java.lang.runtime.ObjectMethods;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bytedeco.javacpp.Pointer;

/**
 * Text and hash codes of values that never show where a native object lives: what shipped code's calls of
 * {@code toString}, {@code hashCode}, {@code String.valueOf}, string concatenation, {@code String.format},
 * a record's {@code toString} and their kin become (the {@link Rewriter} redirects them, see {@link
 * AddressRedirects}).
 *
 * <p>Why: JavaCPP's {@code Pointer.toString()} prints the native address of the object and its {@code
 * hashCode()} is that address. A job that read addresses would know the server's memory layout, which is half of
 * any attack on native memory; so no address reaches a job's text or numbers:
 *
 * <ul>
 *   <li>A native object reads as its own text where its class has one ({@code Tensor}: its type, such as {@code
 *       CPUFloatType}) and as its simple class name otherwise ({@code Scalar@3f2a...}, with the hash code below).
 *   <li>Its hash code is a keyed hash (HMAC-SHA-256 under a key drawn when the server starts) of its address and
 *       position, equal for equal pointers as {@link Pointer#equals} requires, and of no use to find the address.
 *   <li>The JDK's collections, maps, map entries, optionals and arrays read and hash as they would, with their
 *       elements made address-free in turn, since the JDK's own {@code toString} would call the elements'.
 *   <li>Everything else reads as it always does: {@code String.valueOf(x)}.
 * </ul>
 *
 * <p>Pitfall: only shipped code is redirected. JDK code that hashes elements by itself, such as a {@code
 * HashMap} keyed by native objects, still orders its entries by their addresses' low bits; that order is all it
 * shows, never the text of an address (see {@code docs/security.md}).
 */
public final class AddressFree {
    private static final ThreadLocal<Mac> HASH = ThreadLocal.withInitial(AddressFree::newHash);
    private static final byte[] KEY = key();
    private static final MethodHandle TEXT;
    private static final MethodHandle HASHABLE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            TEXT = lookup.findStatic(AddressFree.class, "text", MethodType.methodType(String.class, Object.class));
            HASHABLE = lookup.findStatic(AddressFree.class, "hashable", MethodType.methodType(Object.class, Object.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private AddressFree() {}

    /** {@code value.toString()}, address-free; throws {@link NullPointerException} for {@code null} as it would. */
    public static String toString(Object value) {
        return text(Objects.requireNonNull(value));
    }

    /** {@code Objects.toString(value, whenNull)}, address-free. */
    public static String toString(Object value, String whenNull) {
        return value == null ? whenNull : text(value);
    }

    /** {@code String.valueOf(value)}, address-free: {@code "null"} for {@code null}. */
    public static String text(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Pointer pointer) {
            return pointerText(pointer);
        }
        if (!hasJdkText(value)) {
            return value.toString();
        }
        if (value instanceof Object[] array) {
            return arrayText(array, new StringBuilder()).toString();
        }
        if (value instanceof Collection<?> collection) {
            return sequenceText(collection.iterator(), collection, new StringBuilder("[")).append(']').toString();
        }
        if (value instanceof Map<?, ?> map) {
            return sequenceText(map.entrySet().iterator(), map, new StringBuilder("{")).append('}').toString();
        }
        if (value instanceof Map.Entry<?, ?> entry) {
            return text(entry.getKey()) + "=" + text(entry.getValue());
        }
        if (value instanceof Optional<?> optional) {
            return optional.map(present -> "Optional[" + text(present) + "]").orElse("Optional.empty");
        }
        return value.toString();
    }

    /**
     * {@code value} where its text or hash code cannot show an address; otherwise its address-free {@link #text}.
     * For arguments that the JDK turns into text itself ({@code StringBuilder.append(Object)}, {@code
     * PrintStream.println(Object)}): strings, numbers and the objects of shipped classes pass as they are.
     */
    public static Object printable(Object value) {
        return mayShowAddress(value) ? text(value) : value;
    }

    /** A copy of {@code values} with each made {@link #printable}, for {@code String.format}'s arguments. */
    public static Object[] printable(Object[] values) {
        if (values == null) {
            return null;
        }
        Object[] copy = new Object[values.length];
        for (int i = 0; i < values.length; i++) {
            copy[i] = values[i] instanceof Object[] inner ? printable(inner) : printable(values[i]);
        }
        return copy;
    }

    /** {@code value.hashCode()}, address-free; throws {@link NullPointerException} for {@code null} as it would. */
    public static int hashCode(Object value) {
        return hash(Objects.requireNonNull(value));
    }

    /** {@code Objects.hashCode(value)}, address-free: 0 for {@code null}. */
    public static int hashCodeOrZero(Object value) {
        return value == null ? 0 : hash(value);
    }

    /** {@code Arrays.hashCode(values)} and {@code Objects.hash(values)}, address-free. */
    public static int hashAll(Object[] values) {
        if (values == null) {
            return 0;
        }
        int result = 1;
        for (Object value : values) {
            result = 31 * result + hashCodeOrZero(value);
        }
        return result;
    }

    /** {@code Arrays.deepHashCode(values)}, address-free. */
    public static int deepHashAll(Object[] values) {
        if (values == null) {
            return 0;
        }
        int result = 1;
        for (Object value : values) {
            result = 31 * result + (value instanceof Object[] inner ? deepHashAll(inner) : hashCodeOrZero(value));
        }
        return result;
    }

    /** {@code value}, or for a value whose hash code could show an address, an {@code Integer} of its {@link #hashCode}. */
    public static Object hashable(Object value) {
        return mayShowAddress(value) ? Integer.valueOf(hash(value)) : value;
    }

    /**
     * Bootstrap of string concatenation ({@code "a" + x}) in shipped code: {@link
     * StringConcatFactory#makeConcatWithConstants} with each argument of a reference type other than {@code
     * String} passed through {@link #text} first.
     */
    public static CallSite makeConcatWithConstants(MethodHandles.Lookup lookup, String name, MethodType type,
            String recipe, Object... constants) throws StringConcatException {
        MethodType asText = textTypes(type);
        MethodHandle concat = StringConcatFactory.makeConcatWithConstants(lookup, name, asText, recipe, constants)
                .dynamicInvoker();
        return new ConstantCallSite(textArguments(concat, type));
    }

    /** Bootstrap of string concatenation without constants: {@link StringConcatFactory#makeConcat}, address-free. */
    public static CallSite makeConcat(MethodHandles.Lookup lookup, String name, MethodType type)
            throws StringConcatException {
        MethodHandle concat = StringConcatFactory.makeConcat(lookup, name, textTypes(type)).dynamicInvoker();
        return new ConstantCallSite(textArguments(concat, type));
    }

    /**
     * Bootstrap of a shipped record's {@code toString}, {@code hashCode} and {@code equals}: {@link
     * ObjectMethods#bootstrap}, with each component read through {@link #printable} for {@code toString} and
     * {@link #hashable} for {@code hashCode}.
     */
    public static Object objectMethods(MethodHandles.Lookup lookup, String methodName, TypeDescriptor type,
            Class<?> recordClass, String names, MethodHandle... getters) throws Throwable {
        MethodHandle filter = methodName.equals("toString") ? TEXT : methodName.equals("hashCode") ? HASHABLE : null;
        MethodHandle[] read = getters.clone();
        if (filter != null) {
            for (int i = 0; i < read.length; i++) {
                Class<?> component = read[i].type().returnType();
                if (!component.isPrimitive() && component != String.class) {
                    read[i] = MethodHandles.filterReturnValue(read[i].asType(read[i].type().changeReturnType(Object.class)),
                            filter.asType(MethodType.methodType(Object.class, Object.class)));
                }
            }
        }
        return ObjectMethods.bootstrap(lookup, methodName, type, recordClass, names, read);
    }

    private static MethodType textTypes(MethodType type) {
        MethodType asText = type;
        for (int i = 0; i < type.parameterCount(); i++) {
            if (mayNeedText(type.parameterType(i))) {
                asText = asText.changeParameterType(i, String.class);
            }
        }
        return asText;
    }

    private static MethodHandle textArguments(MethodHandle concat, MethodType type) {
        MethodHandle[] filters = new MethodHandle[type.parameterCount()];
        for (int i = 0; i < filters.length; i++) {
            Class<?> parameter = type.parameterType(i);
            if (mayNeedText(parameter)) {
                filters[i] = TEXT.asType(MethodType.methodType(String.class, parameter));
            }
        }
        return MethodHandles.filterArguments(concat, 0, filters).asType(type);
    }

    private static boolean mayNeedText(Class<?> type) {
        return !type.isPrimitive() && type != String.class;
    }

    private static boolean mayShowAddress(Object value) {
        return value instanceof Pointer || (value != null && hasJdkText(value) && containsPointer(value, 0));
    }

    /** Whether the JDK's own code gives the value's text and hash code: a JDK collection, map, entry, optional or array. */
    private static boolean hasJdkText(Object value) {
        if (value instanceof Object[]) {
            return true;
        }
        if (!(value instanceof Collection || value instanceof Map || value instanceof Map.Entry
                || value instanceof Optional)) {
            return false;
        }
        try {
            Class<?> declaring = value.getClass().getMethod("toString").getDeclaringClass();
            return declaring.getClassLoader() == null;
        } catch (NoSuchMethodException impossible) {
            return false;
        }
    }

    private static boolean containsPointer(Object value, int depth) {
        if (value instanceof Pointer) {
            return true;
        }
        if (value == null || depth > 64 || !hasJdkText(value)) {
            return false;
        }
        Iterable<?> parts;
        if (value instanceof Object[] array) {
            parts = Arrays.asList(array);
        } else if (value instanceof Collection<?> collection) {
            parts = collection;
        } else if (value instanceof Map<?, ?> map) {
            parts = map.entrySet();
        } else if (value instanceof Map.Entry<?, ?> entry) {
            return containsPointer(entry.getKey(), depth + 1) || containsPointer(entry.getValue(), depth + 1);
        } else {
            return containsPointer(((Optional<?>) value).orElse(null), depth + 1);
        }
        for (Object part : parts) {
            if (part != value && containsPointer(part, depth + 1)) {
                return true;
            }
        }
        return false;
    }

    private static StringBuilder arrayText(Object[] array, StringBuilder text) {
        text.append('[');
        for (int i = 0; i < array.length; i++) {
            text.append(i == 0 ? "" : ", ").append(array[i] == array ? "[...]" : text(array[i]));
        }
        return text.append(']');
    }

    private static StringBuilder sequenceText(Iterator<?> parts, Object whole, StringBuilder text) {
        boolean first = true;
        while (parts.hasNext()) {
            Object part = parts.next();
            text.append(first ? "" : ", ");
            first = false;
            if (part instanceof Map.Entry<?, ?> entry) {
                text.append(entry.getKey() == whole ? "(this Map)" : text(entry.getKey())).append('=')
                        .append(entry.getValue() == whole ? "(this Map)" : text(entry.getValue()));
            } else {
                text.append(part == whole ? "(this Collection)" : text(part));
            }
        }
        return text;
    }

    private static int hash(Object value) {
        if (value instanceof Pointer pointer) {
            return pointerHash(pointer);
        }
        if (!hasJdkText(value) || !containsPointer(value, 0)) {
            return value.hashCode();
        }
        if (value instanceof Object[] array) {
            return deepHashAll(array);
        }
        if (value instanceof List<?> list) {
            int result = 1;
            for (Object element : list) {
                result = 31 * result + hashCodeOrZero(element);
            }
            return result;
        }
        if (value instanceof Collection<?> collection) { // a set: the sum, as Set.hashCode specifies
            int sum = 0;
            for (Object element : collection) {
                sum += hashCodeOrZero(element);
            }
            return sum;
        }
        if (value instanceof Map<?, ?> map) {
            int sum = 0;
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                sum += hash(entry);
            }
            return sum;
        }
        if (value instanceof Map.Entry<?, ?> entry) {
            return hashCodeOrZero(entry.getKey()) ^ hashCodeOrZero(entry.getValue());
        }
        return hashCodeOrZero(((Optional<?>) value).orElse(null));
    }

    private static String pointerText(Pointer pointer) {
        try {
            if (pointer.getClass().getMethod("toString").getDeclaringClass() != Pointer.class) {
                return pointer.toString(); // the class's own text, such as a tensor's type
            }
        } catch (NoSuchMethodException impossible) {
            // every class has toString()
        }
        return pointer.getClass().getSimpleName() + "@" + Integer.toHexString(pointerHash(pointer));
    }

    private static int pointerHash(Pointer pointer) {
        Mac mac = HASH.get();
        mac.update(ByteBuffer.allocate(16).putLong(pointer.address()).putLong(pointer.position()).flip());
        return ByteBuffer.wrap(mac.doFinal()).getInt();
    }

    private static byte[] key() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return key;
    }

    private static Mac newHash() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(KEY, "HmacSHA256"));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every Java has HmacSHA256 (" + e + ")", e);
        }
    }
}
