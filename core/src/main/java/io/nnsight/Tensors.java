package io.nnsight;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * The tensor plumbing every user of Bytedeco's {@code Tensor} writes by hand: shapes as {@code long[]},
 * values as Java arrays, the top entries as a small record, and short descriptions for messages.
 *
 * <pre>{@code
 * Tensor logits = lm.trace("Once upon a time", tr -> lm.get("lm_head").output().select(1, -1));   // [1, vocab]
 * Tensors.TopK top = Tensors.topK(logits.select(0, 0), 5);
 * for (int i = 0; i < top.size(); i++) {
 *     System.out.println(lm.tokenizer().token(top.index(i)) + " " + top.value(i));
 * }
 * long[] shape = Tensors.shape(logits);                  // {1, 512}
 * float[] row = Tensors.floats(logits);                  // all 512 values, in order
 * }</pre>
 *
 * <p>The arrays are copies: they are Java values that outlive the trace and its native memory. Values of any
 * element type, layout or view are read in the tensor's logical (row-major) order.
 */
public final class Tensors {
    private Tensors() {}

    /** The sizes of the tensor's dimensions: {@code {1, 5, 64}}. */
    public static long[] shape(Tensor tensor) {
        requireLive(tensor, "the tensor");
        long[] shape = new long[(int) tensor.dim()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = tensor.size(i);
        }
        return shape;
    }

    /** Every element as a {@code long}, in row-major order (floating values are truncated towards zero). */
    public static long[] longs(Tensor tensor) {
        Tensor flat = flat(tensor, ScalarType.Long);
        long[] values = new long[(int) flat.numel()];
        flat.data_ptr_long().capacity(values.length).get(values);
        return values;
    }

    /** Every element as a {@code float}, in row-major order. */
    public static float[] floats(Tensor tensor) {
        Tensor flat = flat(tensor, ScalarType.Float);
        float[] values = new float[(int) flat.numel()];
        flat.data_ptr_float().capacity(values.length).get(values);
        return values;
    }

    /** Every element as a {@code double}, in row-major order. */
    public static double[] doubles(Tensor tensor) {
        Tensor flat = flat(tensor, ScalarType.Double);
        double[] values = new double[(int) flat.numel()];
        flat.data_ptr_double().capacity(values.length).get(values);
        return values;
    }

    /**
     * The {@code k} largest entries of a vector, largest first: what {@code torch.topk} gives, as Java values.
     *
     * @param vector a 1-dimensional tensor (select a row of a batch first: {@code logits.select(0, row)})
     * @throws IllegalArgumentException when {@code vector} is not 1-dimensional, or {@code k} is not between 1
     *     and its length
     */
    public static TopK topK(Tensor vector, int k) {
        if (vector.dim() != 1) {
            throw new IllegalArgumentException("topK takes a vector, not " + describe(vector) + ": select a row first, "
                    + "such as logits.select(0, row) for a [batch, vocab] tensor");
        }
        if (k < 1 || k > vector.size(0)) {
            throw new IllegalArgumentException("k must be between 1 and the vector's length " + vector.size(0) + ": " + k);
        }
        T_TensorTensor_T top = torch.topk(vector, k);
        return new TopK(longs(top.get1()), doubles(top.get0()));
    }

    /**
     * The top entries of a vector: {@link #index(int) index(i)} is the position of the {@code i}-th largest
     * value, {@link #value(int) value(i)} that value. Arrays are defensive copies.
     *
     * @param indices the positions, largest value first
     * @param values the values, largest first
     */
    public record TopK(long[] indices, double[] values) {
        public TopK {
            Objects.requireNonNull(indices, "indices");
            Objects.requireNonNull(values, "values");
            if (indices.length != values.length) {
                throw new IllegalArgumentException(indices.length + " indices but " + values.length + " values");
            }
            indices = indices.clone();
            values = values.clone();
        }

        /** How many entries. */
        public int size() {
            return indices.length;
        }

        /** The position of the {@code i}-th largest value. */
        public long index(int i) {
            return indices[i];
        }

        /** The {@code i}-th largest value. */
        public double value(int i) {
            return values[i];
        }

        @Override
        public long[] indices() {
            return indices.clone();
        }

        @Override
        public double[] values() {
            return values.clone();
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof TopK top && Arrays.equals(indices, top.indices) && Arrays.equals(values, top.values);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(indices) + Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder("TopK[");
            for (int i = 0; i < indices.length; i++) {
                text.append(i == 0 ? "" : ", ").append(indices[i]).append('=').append(values[i]);
            }
            return text.append(']').toString();
        }
    }

    /**
     * {@code tensor} itself, if its native memory is still there: the check nnsight makes where a tensor
     * reaches it, so that a tensor its trace freed fails with a message that says so instead of JavaCPP's
     * "This pointer address is NULL".
     *
     * <pre>{@code
     * Tensors.requireLive(hidden, "the hidden state");   // FreedTensorException: the hidden state was freed: a trace frees ...
     * }</pre>
     *
     * @param what names the tensor for the message, like {@code "the input of trace(...)"}
     * @throws FreedTensorException when the tensor was freed (by the trace or scope that made it)
     * @throws NullPointerException when {@code tensor} is {@code null}
     */
    public static Tensor requireLive(Tensor tensor, String what) {
        Objects.requireNonNull(tensor, what);
        if (tensor.isNull()) {
            throw new FreedTensorException(what);
        }
        return tensor;
    }

    /**
     * A short description of a value for a message: a tensor by shape and element type, never by contents
     * ({@code Tensor[1, 10] Float}, {@code Tensor(freed)}), a list, set, other collection or map by its size ({@code List(2)}),
     * anything else by its class's simple name, or {@code null}.
     */
    public static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Tensor tensor) {
            if (tensor.isNull()) {
                return "Tensor(freed)";
            }
            if (!tensor.defined()) {
                return "Tensor(undefined)";
            }
            // JavaCPP returns enum instances of its own (name() is null); toString() gives the type name.
            return "Tensor" + Arrays.toString(shape(tensor)) + " " + tensor.scalar_type();
        }
        if (value instanceof Collection<?> collection) {
            String kind = value instanceof List ? "List" : value instanceof Set ? "Set" : "Collection";
            return kind + "(" + collection.size() + ")";
        }
        if (value instanceof Map<?, ?> map) {
            return "Map(" + map.size() + ")";
        }
        return value.getClass().getSimpleName();
    }

    /** The tensor's values as a contiguous one-dimensional tensor of {@code type} in this JVM's memory. */
    private static Tensor flat(Tensor tensor, ScalarType type) {
        requireLive(tensor, "the tensor");
        if (!tensor.defined()) {
            throw new IllegalArgumentException("cannot read the values of " + describe(tensor));
        }
        return tensor.detach().cpu().to(type).reshape(-1).contiguous();
    }
}
