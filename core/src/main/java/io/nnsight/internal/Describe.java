package io.nnsight.internal;

import java.util.Arrays;
import java.util.Collection;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/** Short descriptions of values for error messages: a tensor by shape and type, never by contents. */
public final class Describe {
    private Describe() {}

    /** Describes a value: {@code Tensor[1, 10] Float}, {@code List(2)}, {@code String}, {@code null}. */
    public static String value(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Tensor) {
            return tensor((Tensor) value);
        }
        if (value instanceof Collection) {
            return value.getClass().getSimpleName() + "(" + ((Collection<?>) value).size() + ")";
        }
        if (value instanceof Map) {
            return value.getClass().getSimpleName() + "(" + ((Map<?, ?>) value).size() + ")";
        }
        return value.getClass().getSimpleName();
    }

    /** Describes a tensor by its shape and element type, or as freed when its memory was released. */
    public static String tensor(Tensor tensor) {
        if (tensor.isNull()) {
            return "Tensor(freed)";
        }
        if (!tensor.defined()) {
            return "Tensor(undefined)";
        }
        // JavaCPP returns enum instances of its own (name() is null); toString() gives the type name.
        return "Tensor" + shape(tensor) + " " + tensor.scalar_type();
    }

    /** The shape of a tensor as {@code [1, 10]}. */
    public static String shape(Tensor tensor) {
        return Arrays.toString(dims(tensor));
    }

    /** The sizes of a tensor's dimensions. */
    public static long[] dims(Tensor tensor) {
        long[] dims = new long[(int) tensor.dim()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = tensor.size(i);
        }
        return dims;
    }
}
