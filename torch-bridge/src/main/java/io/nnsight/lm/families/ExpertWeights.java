package io.nnsight.lm.families;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How the Hub's checkpoints of mixtures of experts store each expert's weights apart, and where they go in the
 * parameters transformers 5 stacks ({@code mlp.experts.gate_up_proj}, gate first, and {@code mlp.experts.down_proj}),
 * as transformers' weight converters load them.
 */
final class ExpertWeights {
    /** Mixtral's: {@code <layer>.block_sparse_moe.experts.E.w1} (gate), {@code w3} (up), {@code w2} (down). */
    static final ExpertWeights MIXTRAL = new ExpertWeights(
            "(.*)\\.block_sparse_moe\\.experts\\.(\\d+)\\.(w1|w3|w2)\\.weight", "w1", "w3");
    /** Qwen's and OLMoE's: {@code <layer>.mlp.experts.E.gate_proj}, {@code up_proj}, {@code down_proj}. */
    static final ExpertWeights QWEN = new ExpertWeights(
            "(.*)\\.mlp\\.experts\\.(\\d+)\\.(gate_proj|up_proj|down_proj)\\.weight", "gate_proj", "up_proj");

    /** A weight's name: its layer's prefix, its expert, its kind. */
    private final Pattern name;
    private final String gate;
    private final String up;

    private ExpertWeights(String name, String gate, String up) {
        this.name = Pattern.compile(name);
        this.gate = gate;
        this.up = up;
    }

    /** The part of a stacked parameter that the checkpoint's tensor {@code weight} fills, or {@code null}. */
    Family.Part part(String weight) {
        Matcher expert = name.matcher(weight);
        if (!expert.matches()) {
            return null;
        }
        String experts = expert.group(1) + ".mlp.experts.";
        long index = Long.parseLong(expert.group(2));
        String kind = expert.group(3);
        return kind.equals(gate) ? new Family.Part(experts + "gate_up_proj", index, 0, 2)
                : kind.equals(up) ? new Family.Part(experts + "gate_up_proj", index, 1, 2)
                : new Family.Part(experts + "down_proj", index, 0, 1);
    }
}
