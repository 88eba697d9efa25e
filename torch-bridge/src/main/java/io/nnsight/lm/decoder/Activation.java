package io.nnsight.lm.decoder;

import io.nnsight.nn.GELU;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.ReLU;
import io.nnsight.nn.SiLU;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** An MLP's activation, by the names transformers' {@code ACT2FN} gives them in {@code config.json}. */
public enum Activation {
    /** {@code x * sigmoid(x)}: {@code silu}, {@code swish}. */
    SILU("silu", "swish"),
    /** The exact GELU: {@code gelu}. */
    GELU_EXACT("gelu"),
    /** GELU's tanh approximation: {@code gelu_new} (GPT-2), {@code gelu_pytorch_tanh} (Gemma), {@code gelu_fast}. */
    GELU_TANH("gelu_new", "gelu_pytorch_tanh", "gelu_fast"),
    /** {@code relu}. */
    RELU("relu");

    private final List<String> names;

    Activation(String... names) {
        this.names = List.of(names);
    }

    /**
     * The activation transformers names {@code name}.
     *
     * @throws IllegalArgumentException for another name; the message lists the names implemented
     */
    public static Activation named(String name) {
        for (Activation activation : values()) {
            if (activation.names.contains(name)) {
                return activation;
            }
        }
        throw new IllegalArgumentException("the activation '" + name + "' is not implemented; these are: " + Arrays
                .stream(values()).flatMap(activation -> activation.names.stream()).collect(Collectors.joining(", ")));
    }

    /** A new module computing it. */
    public HookedModule module() {
        switch (this) {
            case SILU:
                return new SiLU();
            case GELU_EXACT:
                return new GELU(false);
            case GELU_TANH:
                return new GELU(true);
            default:
                return new ReLU();
        }
    }
}
