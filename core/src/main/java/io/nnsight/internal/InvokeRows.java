package io.nnsight.internal;

import io.nnsight.Inputs;
import io.nnsight.Tensors;
import io.nnsight.TraceException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Cuts a batched value into one invoke's rows and splices an invoke's replacement back in. A tensor
 * belongs to the batch when its first dimension equals the batch size; other values pass through.
 */
public final class InvokeRows {
    private InvokeRows() {}

    /** The rows of {@code value} that belong to {@code group}; views, so in-place edits reach the batch. */
    public static Object narrow(Object value, RowRange group, int total) {
        if (group == null || group.covers(total)) {
            return value;
        }
        return ValueTrees.mapTensors(value, tensor -> isBatched(tensor, total) ? tensor.narrow(0, group.start(), group.size()) : tensor);
    }

    /**
     * {@code current} with the rows of {@code group} replaced by {@code replacement}. The batch keeps its
     * other rows; a new tensor is made (nothing is written in place), so values other invokes already
     * read stay as they were.
     *
     * @param what names the value in error messages, like {@code "the output of layer1"}
     */
    public static Object splice(Object current, Object replacement, RowRange group, int total, String what) {
        if (current instanceof Tensor && isBatched((Tensor) current, total)) {
            return spliceTensor((Tensor) current, replacement, group, total, what);
        }
        if (current instanceof Inputs && replacement instanceof Inputs) {
            return spliceInputs((Inputs) current, (Inputs) replacement, group, total, what);
        }
        if (current instanceof List && replacement instanceof List) {
            List<?> before = (List<?>) current;
            List<?> after = (List<?>) replacement;
            if (before.size() != after.size()) {
                throw new TraceException(what + " is a list of " + before.size() + " values; the replacement has "
                        + after.size());
            }
            List<Object> spliced = new ArrayList<>(before.size());
            for (int i = 0; i < before.size(); i++) {
                spliced.add(splice(before.get(i), after.get(i), group, total, what + "[" + i + "]"));
            }
            return spliced;
        }
        if (Objects.equals(current, replacement)) {
            return current;
        }
        throw new TraceException(what + " is " + Tensors.describe(current) + ", which is not split by batch rows, so one "
                + "invoke cannot replace it for its " + group + " alone; replace it from an invoke without input, which "
                + "sees the whole batch");
    }

    private static Tensor spliceTensor(Tensor current, Object replacement, RowRange group, int total, String what) {
        if (!(replacement instanceof Tensor)) {
            throw new TraceException(what + " is a Tensor; it cannot be replaced by " + Tensors.describe(replacement));
        }
        Tensor rows = (Tensor) replacement;
        long[] expected = Tensors.shape(current);
        expected[0] = group.size();
        if (!Arrays.equals(expected, Tensors.shape(rows))) {
            throw new TraceException("the replacement for " + what + " has shape " + java.util.Arrays.toString(Tensors.shape(rows))
                    + ", but this invoke's " + group + " of it have shape " + Arrays.toString(expected));
        }
        List<Tensor> pieces = new ArrayList<>(3);
        if (group.start() > 0) {
            pieces.add(current.narrow(0, 0, group.start()));
        }
        pieces.add(rows);
        if (group.end() < total) {
            pieces.add(current.narrow(0, group.end(), total - group.end()));
        }
        return cat(pieces);
    }

    private static Inputs spliceInputs(Inputs current, Inputs replacement, RowRange group, int total, String what) {
        if (current.size() != replacement.size() || !current.named().keySet().equals(replacement.named().keySet())) {
            throw new TraceException("the replacement for " + what + " must have the same arguments as the call, "
                    + current + "; got " + replacement);
        }
        List<Object> positional = new ArrayList<>(current.size());
        for (int i = 0; i < current.size(); i++) {
            positional.add(splice(current.get(i), replacement.get(i), group, total, what + " argument " + i));
        }
        Map<String, Object> named = new LinkedHashMap<>();
        for (String name : current.named().keySet()) {
            named.put(name, splice(current.get(name), replacement.get(name), group, total, what + " argument '" + name + "'"));
        }
        return Inputs.of(positional, named);
    }

    /** Whether a tensor is split by batch rows: its first dimension has {@code total} rows. */
    public static boolean isBatched(Tensor tensor, int total) {
        return tensor.dim() > 0 && tensor.size(0) == total;
    }

    /** Concatenates tensors along the first dimension. */
    public static Tensor cat(List<Tensor> tensors) {
        if (tensors.size() == 1) {
            return tensors.get(0);
        }
        return torch.cat(new TensorVector(tensors.toArray(new Tensor[0])), 0);
    }
}
