package io.nnsight.internal;

import io.nnsight.Inputs;
import io.nnsight.Tensors;
import io.nnsight.TraceException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Cuts a batched value into one invoke's rows and splices an invoke's replacement back in (or the
 * invokes' skips together), and tells which values traces sharing a forward pass cannot split by rows. A
 * tensor belongs to the batch when its first dimension equals the batch size; other values pass through.
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
     * {@code replacement}, checked to fit where it replaces {@code current} for the whole batch (an invoke
     * that sees every row): a tensor replaces a tensor of the same shape, element type and device, also
     * inside arguments and lists; other values are the caller's business. In a scan, where {@code current} is
     * on the meta device, a replacement from another device is accepted and moved there, as the same body's
     * replacement fits a trace.
     *
     * @param what names the value in error messages, like {@code "the output of layer1"}
     * @throws TraceException naming {@code what} and, for a tensor of another shape, both shapes
     */
    public static Object replaceWhole(Object current, Object replacement, String what) {
        if (current instanceof Tensor) {
            if (!(replacement instanceof Tensor)) {
                throw new TraceException(what + " is a Tensor; it cannot be replaced by " + Tensors.describe(replacement));
            }
            checkFits((Tensor) current, (Tensor) replacement, Tensors.shape((Tensor) current), what, "");
            return toMeta((Tensor) current, (Tensor) replacement);
        } else if (current instanceof Inputs && replacement instanceof Inputs) {
            Inputs before = (Inputs) current;
            Inputs after = (Inputs) replacement;
            for (int i = 0; i < Math.min(before.size(), after.size()); i++) {
                checkTensors(before.get(i), after.get(i), what + " argument " + i);
            }
            for (String name : before.named().keySet()) {
                checkTensors(before.get(name), after.named().get(name), what + " argument '" + name + "'");
            }
        } else if (current instanceof List && replacement instanceof List
                && ((List<?>) current).size() == ((List<?>) replacement).size()) {
            for (int i = 0; i < ((List<?>) current).size(); i++) {
                checkTensors(((List<?>) current).get(i), ((List<?>) replacement).get(i), what + "[" + i + "]");
            }
        }
        return isOnMeta(current) ? ValueTrees.mapTensors(replacement, InvokeRows::onMeta) : replacement;
    }

    /** Whether a tensor in {@code value} is on the meta device: visited, not copied as a mapping would. */
    private static boolean isOnMeta(Object value) {
        boolean[] meta = new boolean[1];
        ValueTrees.forEachPointer(value, pointer -> meta[0] |= pointer instanceof Tensor && ((Tensor) pointer).is_meta());
        return meta[0];
    }

    /** {@code replacement}, moved to the meta device when {@code current} is there (a scan). */
    private static Tensor toMeta(Tensor current, Tensor replacement) {
        return current.is_meta() ? onMeta(replacement) : replacement;
    }

    private static Tensor onMeta(Tensor tensor) {
        return tensor.is_meta() ? tensor : tensor.to(new Device("meta"), tensor.scalar_type());
    }

    private static void checkTensors(Object current, Object replacement, String what) {
        if (current instanceof Tensor && replacement instanceof Tensor) {
            replaceWhole(current, replacement, what);
        }
    }

    /**
     * Refuses a replacement tensor that would fail in the model's next operation, far from the call that
     * made it: another shape than {@code expected}, another element type, another device.
     *
     * @param part how the message names the part of the value the invoke sees ({@code ""} for all of it)
     */
    private static void checkFits(Tensor current, Tensor replacement, long[] expected, String what, String part) {
        long[] shape = Tensors.shape(replacement);
        if (!Arrays.equals(expected, shape)) {
            throw new TraceException("the replacement for " + what + " has shape " + Arrays.toString(shape) + ", but "
                    + (part.isEmpty() ? what : part) + " has shape " + Arrays.toString(expected));
        }
        if (current.scalar_type().value != replacement.scalar_type().value) {
            throw new TraceException("the replacement for " + what + " holds " + replacement.scalar_type() + " values, but "
                    + what + " holds " + current.scalar_type() + ": convert it first, e.g. value.to(ScalarType."
                    + current.scalar_type() + ")");
        }
        if (!current.is_meta() && !current.device().equals(replacement.device())) {
            throw new TraceException("the replacement for " + what + " is on " + replacement.device().str().getString()
                    + ", but " + what + " is on " + current.device().str().getString() + ": move it there first");
        }
    }

    /**
     * What an invoke's replacement of {@code current} makes of it: the replacement itself, checked to fit, for an
     * invoke that sees every row ({@link #replaceWhole}), else {@code current} with the invoke's rows spliced in
     * ({@link #splice}).
     *
     * @param group the invoke's rows, or {@code null} for an invoke that sees the whole batch
     * @param cohortRows the rows of the invoke's cohort when several traces share the forward pass, else {@code null}
     * @param what names the value in error messages, like {@code "the output of layer1"}
     * @throws SharedByCohorts when the invoke sees all its cohort's rows and {@code current} is not split by rows
     *     but would take the replacement whole: its cohort, alone, could make it, but not among others
     * @throws TraceException when the replacement does not fit
     */
    static Object replace(Object current, Object replacement, RowRange group, RowRange cohortRows, int total,
            String what) {
        if (group == null || group.covers(total)) {
            return replaceWhole(current, replacement, what);
        }
        try {
            return splice(current, replacement, group, total, what);
        } catch (TraceException e) {
            if (!group.equals(cohortRows)) {
                throw e;
            }
            // Alone, this invoke would replace the whole value: if that would work, the value is shared by the
            // cohorts (not split by rows), and only a run of its own can give the job what it asks for.
            replaceWhole(narrow(current, group, total), replacement, what);
            throw new SharedByCohorts("it replaces " + what + ", which the traces sharing the forward pass share ("
                    + "it is not split by rows)");
        }
    }

    /** A replacement a cohort can make alone but not among others; its message says why, for the eviction. */
    static final class SharedByCohorts extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SharedByCohorts(String message) {
            super(message, null, false, false);
        }
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
        checkFits(current, rows, expected, what, what + " in this invoke's " + group);
        rows = toMeta(current, rows);
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

    /**
     * Why a cohort that reads {@code value} could see other cohorts' rows in it, or {@code null} when it cannot: an
     * object inside it not known to be split by rows, or to hold nothing of any row (not a tensor, {@code Inputs},
     * list, boxed primitive, string or enum), named by its class; or a tensor with the batch's rows folded into its
     * first dimension ({@link #foldedRows}), described by its shape.
     */
    static String unsplittable(Object value, int total) {
        String found = unsplittableObject(value);
        return found != null ? found : foldedRows(value, total);
    }

    private static String unsplittableObject(Object value) {
        if (value == null || value instanceof Tensor || value instanceof Number || value instanceof Boolean
                || value instanceof Character || value instanceof String || value instanceof Enum) {
            return null;
        }
        if (value instanceof Inputs) {
            Inputs inputs = (Inputs) value;
            for (Object element : inputs.positional()) {
                String found = unsplittableObject(element);
                if (found != null) {
                    return found;
                }
            }
            for (Object element : inputs.named().values()) {
                String found = unsplittableObject(element);
                if (found != null) {
                    return found;
                }
            }
            return null;
        }
        if (value instanceof List) {
            for (Object element : (List<?>) value) {
                String found = unsplittableObject(element);
                if (found != null) {
                    return found;
                }
            }
            return null;
        }
        return "a " + value.getClass().getSimpleName();
    }

    /**
     * A tensor inside {@code value} whose first dimension is a multiple of the batch's {@code total} rows, but not
     * {@code total}: most likely the batch's rows folded into the first dimension ({@code [rows * tokens, width]}),
     * which {@link #narrow} would hand over whole, every row included. Described by its shape, or {@code null} when
     * there is none. Traces sharing a forward pass are evicted when they read one.
     *
     * <p>The converse, a tensor shared by all rows whose first dimension happens to equal {@code total} (it is
     * narrowed as if it had rows), cannot be told from a batched one by its shape; models whose values at module
     * boundaries are all batched (the language models' decoders) have none.
     */
    private static String foldedRows(Object value, int total) {
        String[] found = new String[1];
        ValueTrees.forEachPointer(value, pointer -> {
            if (found[0] == null && pointer instanceof Tensor) {
                Tensor tensor = (Tensor) pointer;
                long rows = tensor.dim() > 0 ? tensor.size(0) : 0;
                if (rows > total && rows % total == 0) {
                    found[0] = "a tensor of shape " + Arrays.toString(Tensors.shape(tensor)) + " (its first dimension a "
                            + "multiple of the batch's " + total + " rows)";
                }
            }
        });
        return found[0];
    }

    /**
     * What the call of a module that invokes skipped returns: the value of the last skip for the whole batch, else
     * the skips' values, each a tensor of its invoke's rows, concatenated in row order; together they must cover the
     * batch.
     *
     * @param module names the module in error messages
     * @param invokes the trace's invokes, to name those with rows that did not skip
     * @throws TraceException when a skip's value is not a tensor of its rows, or the skips leave rows uncovered
     */
    static Object combineSkips(List<Provider.Skip> skips, int total, String module, List<Mediator> invokes) {
        for (int i = skips.size() - 1; i >= 0; i--) {
            RowRange group = skips.get(i).group();
            if (group == null || group.covers(total)) {
                return skips.get(i).value();
            }
        }
        List<Provider.Skip> ordered = new ArrayList<>(skips);
        ordered.sort(Comparator.comparingInt(skip -> skip.group().start()));
        int next = 0;
        List<Tensor> parts = new ArrayList<>(ordered.size());
        for (Provider.Skip skip : ordered) {
            if (skip.group().start() != next) {
                break;
            }
            if (!(skip.value() instanceof Tensor) || !isBatched((Tensor) skip.value(), skip.group().size())) {
                throw new TraceException(skip.invoke() + " skips " + module + " with " + Tensors.describe(skip.value())
                        + "; it must give a Tensor with its " + skip.group().size() + " batch row(s) first");
            }
            parts.add((Tensor) skip.value());
            next = skip.group().end();
        }
        if (next != total) {
            throw new TraceException(module + " is skipped by " + invokeNames(skips) + " but not by "
                    + invokesWithoutSkip(skips, invokes) + ": a skip replaces the module's whole computation, so every "
                    + "invoke with an input must skip it (or one invoke without input must skip it for the whole batch)");
        }
        return cat(parts);
    }

    private static String invokeNames(List<Provider.Skip> skips) {
        List<String> names = new ArrayList<>();
        for (Provider.Skip skip : skips) {
            names.add(skip.invoke());
        }
        return String.join(", ", names);
    }

    private static String invokesWithoutSkip(List<Provider.Skip> skips, List<Mediator> invokes) {
        List<String> names = new ArrayList<>();
        for (Mediator mediator : invokes) {
            if (mediator.group() != null && skips.stream().noneMatch(skip -> skip.invoke().equals(mediator.name()))) {
                names.add(mediator.name());
            }
        }
        return String.join(", ", names);
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
