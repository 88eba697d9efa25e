package io.nnsight.internal;

import io.nnsight.Batchable;
import io.nnsight.FreedTensorException;
import io.nnsight.Inputs;
import io.nnsight.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * The batching of models that take tensors: an input is a {@code Tensor} or an {@link Inputs}; its batch
 * size is the first dimension of its first tensor; invokes are combined by concatenating every tensor
 * argument along the first dimension. Arguments that are not tensors must be equal in every invoke.
 */
public final class TensorInputs implements Batchable {
    /** The one instance; it has no state. */
    public static final TensorInputs INSTANCE = new TensorInputs();

    private TensorInputs() {}

    @Override
    public Prepared prepare(Object input) {
        Inputs inputs;
        if (input instanceof Tensor) {
            inputs = Inputs.of(input);
        } else if (input instanceof Inputs) {
            inputs = (Inputs) input;
        } else {
            throw new IllegalArgumentException("this model takes a Tensor or an Inputs of arguments, not "
                    + Tensors.describe(input) + "; to accept other inputs, wrap the model with a Batchable that "
                    + "prepares them: NNsight.wrap(module, batchable)");
        }
        ValueTrees.forEachPointer(inputs, pointer -> {
            if (pointer instanceof Tensor && pointer.isNull()) {
                throw new FreedTensorException("a tensor of the input " + inputs);
            }
        });
        return new Prepared(inputs, batchSize(inputs));
    }

    private static int batchSize(Inputs inputs) {
        for (Object argument : inputs.positional()) {
            if (argument instanceof Tensor) {
                return rows((Tensor) argument);
            }
        }
        for (Object argument : inputs.named().values()) {
            if (argument instanceof Tensor) {
                return rows((Tensor) argument);
            }
        }
        return 0;
    }

    private static int rows(Tensor tensor) {
        if (tensor.dim() == 0) {
            throw new IllegalArgumentException("a 0-dimensional tensor has no batch dimension; give the input a "
                    + "first dimension of batch rows, e.g. x.unsqueeze(0)");
        }
        return Math.toIntExact(tensor.size(0));
    }

    @Override
    public Inputs combine(List<Prepared> rows) {
        Inputs first = rows.get(0).inputs();
        List<Object> positional = new ArrayList<>(first.size());
        for (int i = 0; i < first.size(); i++) {
            List<Object> column = new ArrayList<>(rows.size());
            for (Prepared row : rows) {
                if (row.inputs().size() != first.size()) {
                    throw new IllegalArgumentException("invokes must give the same number of arguments to be batched: "
                            + first + " and " + row.inputs());
                }
                column.add(row.inputs().get(i));
            }
            positional.add(combineColumn(column, "argument " + i));
        }
        Map<String, Object> named = new LinkedHashMap<>();
        for (String name : first.named().keySet()) {
            List<Object> column = new ArrayList<>(rows.size());
            for (Prepared row : rows) {
                if (!row.inputs().named().keySet().equals(first.named().keySet())) {
                    throw new IllegalArgumentException("invokes must give the same named arguments to be batched: "
                            + first + " and " + row.inputs());
                }
                column.add(row.inputs().get(name));
            }
            named.put(name, combineColumn(column, "argument '" + name + "'"));
        }
        return Inputs.of(positional, named);
    }

    private static Object combineColumn(List<Object> column, String what) {
        if (column.get(0) instanceof Tensor) {
            List<Tensor> tensors = new ArrayList<>(column.size());
            for (Object value : column) {
                if (!(value instanceof Tensor)) {
                    throw new IllegalArgumentException(what + " is a Tensor in one invoke and " + Tensors.describe(value)
                            + " in another");
                }
                tensors.add((Tensor) value);
            }
            return InvokeRows.cat(tensors);
        }
        for (Object value : column) {
            if (!Objects.equals(value, column.get(0))) {
                throw new IllegalArgumentException(what + " differs between invokes (" + Tensors.describe(column.get(0))
                        + " and " + Tensors.describe(value) + "); arguments that are not tensors cannot be batched");
            }
        }
        return column.get(0);
    }
}
