package io.nnsight.lm.families;

import io.nnsight.lm.decoder.DecoderSpec;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * OLMo 3 ({@code olmo3}: AI2's open models of late 2025, 7B and 32B, base, instruct and think): {@link Olmo2}'s layout
 * with three sliding-window layers to each full one ({@code layer_types}; {@code sliding_window}, 4096), and rotary
 * embeddings per layer type over {@code rope_theta} (500,000), the config's scaling (YaRN for the long-context
 * models) in the full layers only, as {@code rope_parameters.full_attention} and {@code
 * rope_parameters.sliding_attention} give them in transformers 5's configs.
 */
public final class Olmo3 extends Family {
    /** The family, as {@link Families} knows it. */
    public Olmo3() {
        super("olmo3", Llama.PATHS);
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        int layers = config.integer("num_hidden_layers");
        Integer window = config.optionalInteger("sliding_window", 4096);
        List<String> types = config.layerTypes(layers, IntStream.range(0, layers)
                .mapToObj(layer -> (layer + 1) % 4 != 0 ? HfConfig.SLIDING : HfConfig.FULL).collect(Collectors.toList()));
        DecoderSpec.Builder base = Llama.unrotated("Olmo3", paths(), config, 0)
                .rope(config.ropeOfLayers(HfConfig.FULL, "rope_theta", 5e5))
                .localRope(config.ropeOfLayers(HfConfig.SLIDING, "rope_theta", 5e5),
                        layer -> types.get(layer).equals(HfConfig.SLIDING));
        return Olmo2.layout(base, config)
                .windows(layer -> window != null && types.get(layer).equals(HfConfig.SLIDING) ? window : 0)
                .build();
    }
}
