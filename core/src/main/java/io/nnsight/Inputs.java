package io.nnsight;

import io.nnsight.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * The arguments of one module call: positional arguments in order, plus named arguments.
 *
 * <p>Java has no keyword arguments, so a module that takes optional or named inputs (an attention
 * mask, position ids) receives them by name here, the way Hugging Face models receive {@code
 * attention_mask=...}. {@link Envoy#inputs()} returns the inputs of a module call as an {@code
 * Inputs}; {@link Envoy#input()} returns its {@linkplain #first() first} argument.
 *
 * <pre>{@code
 * Inputs in = Inputs.of(ids).with("attention_mask", mask);
 * Tensor ids = in.tensor(0);
 * Tensor mask = in.tensor("attention_mask");
 * }</pre>
 *
 * <p>An {@code Inputs} is immutable: the {@code with...} methods return a changed copy. Arguments may be
 * {@code null} (an absent optional input).
 */
public final class Inputs {
    private static final Inputs EMPTY = new Inputs(List.of(), Map.of());

    private final List<Object> positional;
    private final Map<String, Object> named;

    private Inputs(List<Object> positional, Map<String, Object> named) {
        this.positional = positional;
        this.named = named;
    }

    /** Positional arguments, in order. */
    public static Inputs of(Object... positional) {
        if (positional.length == 0) {
            return EMPTY;
        }
        return new Inputs(Collections.unmodifiableList(Arrays.asList(positional.clone())), Map.of());
    }

    /** Positional and named arguments; the map's iteration order is kept. */
    public static Inputs of(List<?> positional, Map<String, ?> named) {
        if (positional.isEmpty() && named.isEmpty()) {
            return EMPTY;
        }
        return new Inputs(
                Collections.unmodifiableList(new ArrayList<>(positional)),
                Collections.unmodifiableMap(new LinkedHashMap<>(named)));
    }

    /** A copy with the named argument {@code name} set to {@code value} (added last if new). */
    public Inputs with(String name, Object value) {
        Objects.requireNonNull(name, "name");
        Map<String, Object> copy = new LinkedHashMap<>(named);
        copy.put(name, value);
        return new Inputs(positional, Collections.unmodifiableMap(copy));
    }

    /** A copy with positional argument {@code index} replaced by {@code value}. */
    public Inputs with(int index, Object value) {
        checkIndex(index);
        List<Object> copy = new ArrayList<>(positional);
        copy.set(index, value);
        return new Inputs(Collections.unmodifiableList(copy), named);
    }

    /** The positional arguments (unmodifiable). */
    public List<Object> positional() {
        return positional;
    }

    /** The named arguments, in the order they were given (unmodifiable). */
    public Map<String, Object> named() {
        return named;
    }

    /** Positional argument {@code index}. */
    public Object get(int index) {
        checkIndex(index);
        return positional.get(index);
    }

    /** Named argument {@code name}, or {@code null} when it was not given. */
    public Object get(String name) {
        return named.get(name);
    }

    /** Positional argument {@code index} as a tensor; fails with the argument's actual type otherwise. */
    public Tensor tensor(int index) {
        return asTensor(get(index), "argument " + index);
    }

    /** Named argument {@code name} as a tensor, or {@code null} when it was not given. */
    public Tensor tensor(String name) {
        Object value = named.get(name);
        return value == null ? null : asTensor(value, "argument '" + name + "'");
    }

    /**
     * The first positional argument, or the first named argument when there is no positional one: what
     * {@link Envoy#input()} returns, as in nnsight.
     *
     * @throws NoSuchElementException when there are no arguments at all
     */
    public Object first() {
        if (!positional.isEmpty()) {
            return positional.get(0);
        }
        if (!named.isEmpty()) {
            return named.values().iterator().next();
        }
        throw new NoSuchElementException("the call has no arguments");
    }

    /** A copy with {@link #first()} replaced by {@code value}. */
    public Inputs withFirst(Object value) {
        if (!positional.isEmpty()) {
            return with(0, value);
        }
        if (!named.isEmpty()) {
            return with(named.keySet().iterator().next(), value);
        }
        throw new NoSuchElementException("the call has no arguments to replace");
    }

    /** The number of positional arguments. */
    public int size() {
        return positional.size();
    }

    /** Whether there are neither positional nor named arguments. */
    public boolean isEmpty() {
        return positional.isEmpty() && named.isEmpty();
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= positional.size()) {
            throw new IndexOutOfBoundsException(
                    "argument " + index + " requested, but the call has " + positional.size() + " positional argument(s)");
        }
    }

    private static Tensor asTensor(Object value, String what) {
        if (value instanceof Tensor) {
            return (Tensor) value;
        }
        throw new ClassCastException(what + " is " + Tensors.describe(value) + ", not a Tensor");
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Inputs
                && positional.equals(((Inputs) other).positional)
                && named.equals(((Inputs) other).named);
    }

    @Override
    public int hashCode() {
        return 31 * positional.hashCode() + named.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("Inputs(");
        String separator = "";
        for (Object value : positional) {
            text.append(separator).append(Tensors.describe(value));
            separator = ", ";
        }
        for (Map.Entry<String, Object> entry : named.entrySet()) {
            text.append(separator).append(entry.getKey()).append('=').append(Tensors.describe(entry.getValue()));
            separator = ", ";
        }
        return text.append(')').toString();
    }
}
