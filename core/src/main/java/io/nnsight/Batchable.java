package io.nnsight;

import java.util.List;

/**
 * How a model turns the inputs of several invokes into one batched forward pass: nnsight's {@code
 * Batchable} contract.
 *
 * <p>Each {@link Tracer#invoke(Object, java.util.function.Supplier) invoke} with an input is one group
 * of batch rows. The trace {@linkplain #prepare prepares} every invoke's input, learning how many rows
 * it adds, then {@linkplain #combine combines} all of them into the arguments of a single forward call.
 * During the forward, each invoke sees only its own rows of every tensor whose first dimension is the
 * batch. An input that adds no rows (batch size 0) carries options: its named arguments are passed to
 * the forward call as they are.
 *
 * <p>{@link NNsight#wrap(org.bytedeco.pytorch.Module)} uses a batching for tensors: an input is a
 * {@code Tensor} (its first dimension is the batch) or an {@link Inputs} of tensors and other values,
 * and invokes are combined by concatenating tensors along the first dimension. A language model
 * supplies its own, which tokenizes strings and pads prompts of different lengths.
 */
public interface Batchable {
    /**
     * One invoke's input, prepared for the forward call.
     *
     * @param inputs the forward arguments this input stands for
     * @param batchSize the number of batch rows the input adds; 0 for options without rows
     */
    record Prepared(Inputs inputs, int batchSize) {
        /** Checks the batch size. */
        public Prepared {
            if (batchSize < 0) {
                throw new IllegalArgumentException("batchSize must be >= 0, got " + batchSize);
            }
        }
    }

    /**
     * Prepares one invoke's input.
     *
     * @param input what the user passed to {@code trace} or {@code invoke}
     * @return the forward arguments and the number of batch rows
     * @throws IllegalArgumentException when this model cannot take such an input; the message says what
     *     it takes
     */
    Prepared prepare(Object input);

    /**
     * Combines the prepared inputs of several invokes, in invoke order, into one batch. Called only when
     * there are at least two.
     *
     * @param rows prepared inputs, each with a batch size above 0
     * @return the arguments of the one forward call
     */
    Inputs combine(List<Prepared> rows);

    /**
     * What must be equal for the rows of several independent traces to share one forward pass ({@link
     * io.nnsight.spi.TraceBatch}), given one trace's prepared inputs with rows: two traces whose keys are {@code
     * equals} compute for each of their rows what they compute alone (up to float rounding), in one batch.
     *
     * <p>The default, {@code null}, means "never share": a model whose rows are not independent (batch norm in
     * training mode, anything that mixes rows) keeps it, so batching is opt-in. A language model's key is the
     * padded length and whether any row is padded, so a trace's tensors have the shape they have alone.
     *
     * <p>A key also promises that every tensor at a module boundary whose first dimension is the batch's row count
     * is split by rows: each trace gets its own rows of it. A tensor shared by all rows whose first dimension happens
     * to equal the row count would be cut too, which no shape tells; one whose first dimension is a larger multiple
     * of it (rows folded into it) evicts the trace that reads it.
     *
     * @param rows the trace's prepared inputs, each with rows, in invoke order
     * @return an {@code equals}-comparable key, or {@code null} when the trace must run alone
     */
    default Object cohortKey(List<Prepared> rows) {
        return null;
    }

    /**
     * How long each row of a trace's prepared inputs is once they are batched together: a language model's
     * longest prompt, in tokens, to which the others are padded. A model server bounds a forward pass in tokens
     * ({@link io.nnsight.spi.TraceBatch.Shape#tokens()}): the sum over its rows of this length.
     *
     * <p>The default, 1, counts each row as one token: inputs without a sequence dimension.
     *
     * @param rows the trace's prepared inputs, each with rows, in invoke order
     * @return the padded length of every row, at least 1
     */
    default long paddedLength(List<Prepared> rows) {
        return 1;
    }
}
