package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import java.util.List;
import java.util.function.BiPredicate;
import java.util.function.IntUnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Qwen 2 and 2.5 ({@code qwen2}): Llama's layout with biases on the query, key and value projections, and
 * sliding windows in the layers {@code layer_types} marks (by default, with {@code use_sliding_window}, the
 * layers from {@code max_window_layers} on).
 */
public final class Qwen2 extends Family {
    /** The family, as {@link Families} knows it. */
    public Qwen2() {
        super("qwen2", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        return Llama.layout("Qwen2", paths(), config, 0).attentionBias(true, false).windows(windows(config)).build();
    }

    /**
     * The windows of Qwen 2's layers: {@code sliding_window} where {@code layer_types} says so, if {@code
     * use_sliding_window}; without {@code layer_types}, in the layers from {@code max_window_layers} on.
     */
    static IntUnaryOperator windows(HfConfig config) {
        return windows(config, (layer, windowLayers) -> layer >= windowLayers);
    }

    /**
     * The windows of a Qwen family's layers: {@code sliding_window} where {@code layer_types} says so, if {@code
     * use_sliding_window}; without {@code layer_types}, where {@code slidingByDefault} says so of a layer and {@code
     * max_window_layers}.
     */
    static IntUnaryOperator windows(HfConfig config, BiPredicate<Integer, Integer> slidingByDefault) {
        int layers = config.integer("num_hidden_layers");
        Integer window = config.bool("use_sliding_window", false) ? config.optionalInteger("sliding_window", 4096) : null;
        int windowLayers = config.integer("max_window_layers", 28);
        List<String> types = config.layerTypes(layers, IntStream.range(0, layers)
                .mapToObj(layer -> window != null && slidingByDefault.test(layer, windowLayers) ? HfConfig.SLIDING
                        : HfConfig.FULL)
                .collect(Collectors.toList()));
        return layer -> window != null && types.get(layer).equals(HfConfig.SLIDING) ? window : 0;
    }
}
