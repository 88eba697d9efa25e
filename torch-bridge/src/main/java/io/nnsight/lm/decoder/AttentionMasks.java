package io.nnsight.lm.decoder;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The attention masks of one forward pass, one per window size its layers use, made when first asked for:
 * additive masks {@code [batch, 1, tokens, past + tokens]} in the weights' type, 0 where a query may attend (a
 * key at or before it, within its window, not padding) and the type's lowest value elsewhere (not {@code -inf}:
 * the rows of padding tokens, which may attend to nothing, stay finite, as in transformers' eager masks). Made with
 * {@code bitwise_and} and {@code masked_fill}, not {@code logical_and} and {@code where}, which have no kernel on the
 * meta device (a scan).
 */
final class AttentionMasks {
    private final Tensor padding;
    private final boolean padded;
    private final long tokens;
    private final long past;
    private final Placement placement;
    private final Map<Integer, Tensor> masks = new HashMap<>();

    /**
     * @param padding the padding mask {@code [batch, past + tokens]}, 1 for real tokens and 0 for padding, or
     *     {@code null} for none
     */
    AttentionMasks(Tensor padding, long tokens, long past, Placement placement) {
        // on the meta device (a scan) the padding has no values: assume some, which changes no shape
        this.padded = padding != null && (padding.is_meta() || !torch.all(padding).item_bool());
        this.padding = padded ? padding.to(torch.ScalarType.Bool).unsqueeze(1).unsqueeze(1) : null;
        this.tokens = tokens;
        this.past = past;
        this.placement = placement;
    }

    /** Whether the padding mask has padding (assumed on the meta device, where it has no values). */
    boolean padded() {
        return padded;
    }

    /**
     * The mask of a layer whose window is {@code window} tokens (0 for none); {@code null} when plain causal
     * attention is the same (no padding, and nothing cached or a single query, within the window).
     */
    Tensor forWindow(int window) {
        boolean windowed = window > 0 && past + tokens > window;
        if (!padded && !windowed && (past == 0 || tokens == 1)) {
            return null;
        }
        return masks.computeIfAbsent(window, this::build);
    }

    /** The plain causal mask, for eager attention where {@link #forWindow} gave none. */
    static Tensor causal(long tokens, long past, Placement placement) {
        return additive(allowed(tokens, past, 0, placement), placement);
    }

    private Tensor build(int window) {
        Tensor allowed = allowed(tokens, past, window, placement);
        return additive(padding == null ? allowed : allowed.bitwise_and(padding), placement);
    }

    /** Whether each query may attend to each key by position: {@code [1, 1, tokens, past + tokens]}. */
    private static Tensor allowed(long tokens, long past, int window, Placement placement) {
        Tensor keys = torch.arange(new Scalar(past + tokens), placement.longs()).unsqueeze(0);
        Tensor queries = torch.arange(new Scalar(past), new Scalar(past + tokens), placement.longs()).unsqueeze(1);
        Tensor allowed = keys.le(queries);
        if (window > 0) {
            allowed = allowed.bitwise_and(keys.gt(queries.sub(new Scalar(window))));
        }
        return allowed.unsqueeze(0).unsqueeze(0);
    }

    private static Tensor additive(Tensor allowed, Placement placement) {
        return torch.full(allowed.sizes().vec().get(), new Scalar(lowest(placement)), placement.weights())
                .masked_fill(allowed, new Scalar(0.0));
    }

    /** The lowest finite value of the weights' type: transformers' {@code torch.finfo(dtype).min}. */
    private static double lowest(Placement placement) {
        switch (placement.dtype()) {
            case F16:
                return -65504.0;
            case BF16:
                return -3.3895313892515355e38;
            case F64:
                return -Double.MAX_VALUE;
            default:
                return -Float.MAX_VALUE;
        }
    }
}
