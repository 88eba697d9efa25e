package io.nnsight.lm.internal;

import io.nnsight.Batchable;
import io.nnsight.Inputs;
import io.nnsight.Tensors;
import io.nnsight.lm.Tokenizer;
import io.nnsight.lm.decoder.Placement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * A language model's inputs: a prompt, several prompts, or token ids, tokenized and left-padded into
 * {@code input_ids} and {@code attention_mask} (1 for real tokens, 0 for padding), as Hugging Face's
 * tokenizers do with {@code padding_side="left"}, on the model's device.
 */
public final class PromptInputs implements Batchable {
    private static final TensorOptions HOST_LONGS = unscoped(new TensorOptions(ScalarType.Long));
    private static final MemoryFormatOptional ANY_MEMORY_FORMAT = unscoped(new MemoryFormatOptional());

    private final Tokenizer tokenizer;
    private final int contextLength;
    private final Placement placement;

    /** Inputs of a model of {@code contextLength} tokens whose tensors live as {@code placement} says. */
    public PromptInputs(Tokenizer tokenizer, int contextLength, Placement placement) {
        this.tokenizer = tokenizer;
        this.contextLength = contextLength;
        this.placement = placement;
    }

    /** Where the model's tensors live. */
    public Placement placement() {
        return placement;
    }

    /**
     * Prepares a {@code String}, a {@code List<String>}, token ids ({@code long[]}, {@code int[]}, {@code
     * long[][]}, an integer {@code Tensor} of shape {@code [tokens]} or {@code [batch, tokens]}), or an
     * {@link Inputs} with named {@code input_ids} and, optionally, {@code attention_mask}.
     */
    @Override
    public Prepared prepare(Object input) {
        if (input instanceof Inputs) {
            Inputs inputs = (Inputs) input;
            Tensor ids = inputs.tensor("input_ids");
            if (ids == null) {
                throw new IllegalArgumentException("a language model's Inputs must name its token ids \"input_ids\"; got "
                        + inputs);
            }
            Tensor mask = inputs.tensor("attention_mask");
            ids = tokenIds(ids).dim() == 1 ? ids.unsqueeze(0) : ids;
            return prepared(ids, mask == null ? torch.ones_like(ids) : mask.dim() == 1 ? mask.unsqueeze(0) : mask);
        }
        return prepared(rows(input));
    }

    private List<long[]> rows(Object input) {
        List<long[]> rows = new ArrayList<>();
        if (input instanceof String) {
            rows.add(encode((String) input));
        } else if (input instanceof List && !((List<?>) input).isEmpty() && ((List<?>) input).get(0) instanceof String) {
            for (Object prompt : (List<?>) input) {
                rows.add(encode((String) prompt));
            }
        } else if (input instanceof long[]) {
            rows.add((long[]) input);
        } else if (input instanceof int[]) {
            rows.add(Arrays.stream((int[]) input).asLongStream().toArray());
        } else if (input instanceof long[][]) {
            rows.addAll(Arrays.asList((long[][]) input));
        } else if (input instanceof Tensor) {
            Tensor ids = tokenIds((Tensor) input);
            Tensor matrix = ids.dim() == 1 ? ids.unsqueeze(0) : ids;
            for (long row = 0; row < matrix.size(0); row++) {
                rows.add(Tensors.longs(matrix.select(0, row)));
            }
        } else {
            throw new IllegalArgumentException("a language model takes a prompt (String), prompts (List<String>), token "
                    + "ids (long[], int[], long[][] or an integer Tensor) or Inputs with \"input_ids\"; got "
                    + Tensors.describe(input));
        }
        return rows;
    }

    /**
     * {@code ids}, checked to be token ids: a live tensor of integers. A floating tensor would be truncated
     * to ids silently (an embedding's output given as input, a mask of 0.5), so it is refused.
     */
    private static Tensor tokenIds(Tensor ids) {
        Tensors.requireLive(ids, "the token ids");
        if (ids.is_floating_point() || ids.scalar_type().value == ScalarType.Bool.value) {
            throw new IllegalArgumentException("token ids must be an integer tensor (Long or Int), not "
                    + Tensors.describe(ids) + ": to run the model on embeddings, set the output of the embedding "
                    + "module instead; to convert ids held as floats, ids.to(ScalarType.Long)");
        }
        return ids;
    }

    private long[] encode(String prompt) {
        long[] ids = tokenizer.encode(prompt);
        if (ids.length == 0 && tokenizer.bos() >= 0) {
            return new long[] {tokenizer.bos()}; // an empty prompt starts from BOS
        }
        return ids;
    }

    /** Rows of token ids, left-padded to the longest and checked on the host: no tensor is made to check them. */
    private Prepared prepared(List<long[]> rows) {
        int longest = 0;
        for (long[] row : rows) {
            if (row.length == 0) {
                throw new IllegalArgumentException("a prompt has no tokens, and the tokenizer has no BOS token to start from");
            }
            longest = Math.max(longest, row.length);
        }
        long[] ids = new long[rows.size() * longest];
        long[] mask = new long[rows.size() * longest];
        for (int r = 0; r < rows.size(); r++) {
            long[] row = rows.get(r);
            int padding = longest - row.length;
            Arrays.fill(ids, r * longest, r * longest + padding, tokenizer.pad());
            System.arraycopy(row, 0, ids, r * longest + padding, row.length);
            Arrays.fill(mask, r * longest + padding, (r + 1) * longest, 1);
        }
        checkLength(longest, 0);
        if (ids.length > 0) {
            long min = ids[0];
            long max = ids[0];
            for (long id : ids) {
                min = Math.min(min, id);
                max = Math.max(max, id);
            }
            checkVocabulary(min, max);
        }
        long[] shape = {rows.size(), longest};
        return prepared(hostLongs(ids, shape), hostLongs(mask, shape), rows.size());
    }

    /**
     * A host tensor of {@code shape} holding {@code values} in row-major order: one native tensor, written in
     * place (where {@code torch.tensor(values).reshape(shape)} makes two and copies the values twice).
     */
    private static Tensor hostLongs(long[] values, long[] shape) {
        Tensor tensor = torch.empty(shape, HOST_LONGS, ANY_MEMORY_FORMAT);
        if (values.length > 0) {
            tensor.data_ptr_long().capacity(values.length).put(values);
        }
        return tensor;
    }

    /** Token ids and their mask given as tensors, checked. */
    private Prepared prepared(Tensor ids, Tensor mask) {
        checkLength(ids.size(1), 0);
        if (ids.numel() > 0) {
            checkVocabulary(ids.min().item_long(), ids.max().item_long());
        }
        return prepared(ids.to(ScalarType.Long), mask.to(ScalarType.Long), (int) ids.size(0));
    }

    private Prepared prepared(Tensor ids, Tensor mask, int rows) {
        return new Prepared(Inputs.of().with("input_ids", placement.onDevice(ids))
                .with("attention_mask", placement.onDevice(mask)), rows);
    }

    /** Takes a constant out of the {@link PointerScope} open while this class initializes: it lives as long as the class. */
    private static <P extends Pointer> P unscoped(P pointer) {
        PointerScope scope = PointerScope.getInnerScope();
        if (scope != null) {
            pointer.retainReference();
            scope.detach(pointer);
        }
        return pointer;
    }

    /** Checks that token ids from {@code min} to {@code max} are in the tokenizer's vocabulary. */
    private void checkVocabulary(long min, long max) {
        long vocabulary = tokenizer.vocabularySize();
        if (max >= vocabulary || min < 0) {
            throw new IllegalArgumentException("token ids must be in [0, " + vocabulary + "), got values from " + min
                    + " to " + max);
        }
    }

    /**
     * Checks that {@code tokens} plus {@code newTokens} fit the model's context.
     *
     * @throws IllegalArgumentException naming both lengths and the context
     */
    public void checkLength(long tokens, int newTokens) {
        if (tokens + newTokens > contextLength) {
            throw new IllegalArgumentException("a prompt of " + tokens + " tokens"
                    + (newTokens > 0 ? " plus " + newTokens + " new tokens" : "") + " is longer than the model's context of "
                    + contextLength + " tokens");
        }
    }

    /**
     * The padded length of a trace's prompts and whether any of its rows is padded: traces with equal keys keep,
     * batched together, the shapes and the attention path (masked or not) they have alone.
     */
    @Override
    public Object cohortKey(List<Prepared> rows) {
        long longest = 0;
        boolean lengthsDiffer = false;
        boolean padded = false;
        for (Prepared row : rows) {
            long length = row.inputs().tensor("input_ids").size(1);
            lengthsDiffer |= longest != 0 && length != longest;
            longest = Math.max(longest, length);
            padded |= hasPadding(row.inputs().tensor("attention_mask"));
        }
        return List.of(longest, lengthsDiffer || padded);
    }

    /**
     * Whether a padding mask has a 0. A contiguous host mask of longs (what {@link #prepare} makes on the CPU) is
     * read in place, without the two tensors and the kernel that {@code mask.min()} costs.
     */
    private static boolean hasPadding(Tensor mask) {
        if (!mask.is_cpu() || !mask.is_contiguous() || mask.scalar_type().value != ScalarType.Long.value) {
            return mask.min().item_long() == 0;
        }
        long[] values = new long[(int) mask.numel()];
        if (values.length > 0) {
            mask.data_ptr_long().capacity(values.length).get(values);
        }
        for (long value : values) {
            if (value == 0) {
                return true;
            }
        }
        return false;
    }

    /** The longest prompt's token count, to which {@link #combine} pads the others. */
    @Override
    public long paddedLength(List<Prepared> rows) {
        long longest = 1;
        for (Prepared row : rows) {
            longest = Math.max(longest, row.inputs().tensor("input_ids").size(1));
        }
        return longest;
    }

    /** Left-pads the prompts of several invokes to the longest and stacks them. */
    @Override
    public Inputs combine(List<Prepared> rows) {
        long longest = 0;
        for (Prepared row : rows) {
            longest = Math.max(longest, row.inputs().tensor("input_ids").size(1));
        }
        Tensor[] ids = new Tensor[rows.size()];
        Tensor[] masks = new Tensor[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            Inputs row = rows.get(i).inputs();
            ids[i] = leftPad(row.tensor("input_ids"), longest, tokenizer.pad());
            masks[i] = leftPad(row.tensor("attention_mask"), longest, 0);
        }
        return Inputs.of().with("input_ids", torch.cat(new TensorVector(ids), 0))
                .with("attention_mask", torch.cat(new TensorVector(masks), 0));
    }

    private Tensor leftPad(Tensor rows, long length, long value) {
        long padding = length - rows.size(1);
        if (padding == 0) {
            return rows;
        }
        Tensor pad = torch.full(new long[] {rows.size(0), padding}, new Scalar(value), placement.longs());
        return torch.cat(new TensorVector(pad, rows), 1);
    }
}
