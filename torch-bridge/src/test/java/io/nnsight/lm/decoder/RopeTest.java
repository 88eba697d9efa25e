package io.nnsight.lm.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.nnsight.Tensors;
import io.nnsight.safetensors.DType;
import org.junit.jupiter.api.Test;

/**
 * The rotary types' inverse frequencies against transformers 5.18's {@code ROPE_INIT_FUNCTIONS} for heads of 8
 * dimensions (printed by {@code LlamaConfig(hidden_size=32, num_attention_heads=4, head_dim=8,
 * max_position_embeddings=16, rope_parameters=...)}); {@code llama3} is also checked end to end by {@code
 * llama3-bf16-tiny}'s reference.
 */
class RopeTest {
    private static final Placement CPU = Placement.of(DType.F32, "cpu");

    private static float[] frequencies(Rope rope, long length) {
        return Tensors.floats(rope.inverseFrequencies(8, length, CPU));
    }

    @Test
    void default_linear_dynamic_llama3_giveTransformersFrequencies() {
        assertArrayEquals(new float[] {1.0f, 0.1f, 0.01f, 0.001f},
                frequencies(new Rope("default", 10000, 1, 1, 0, 0, 16, 16), 0), 1e-9f);
        assertArrayEquals(new float[] {0.25f, 0.025f, 0.0025f, 0.00025f},
                frequencies(new Rope("linear", 10000, 1, 4, 0, 0, 16, 16), 0), 1e-9f);
        assertArrayEquals(new float[] {1.0f, 0.06299605220556259f, 0.00396850286051631f, 0.0002500000118743628f},
                frequencies(new Rope("dynamic", 10000, 1, 2, 0, 0, 16, 16), 40), 1e-8f);
        assertArrayEquals(new float[] {0.5760563611984253f, 0.004700753837823868f, 0.00017677668074611574f,
            6.647869668086059e-06f}, frequencies(new Rope("llama3", 500000, 1, 8, 1, 4, 16, 16), 0), 1e-8f);
    }

    @Test
    void dynamic_withinMaxPositions_isTheDefault() {
        assertArrayEquals(frequencies(new Rope("default", 10000, 1, 1, 0, 0, 16, 16), 0),
                frequencies(new Rope("dynamic", 10000, 1, 2, 0, 0, 16, 16), 16), 0f);
    }

    @Test
    void anotherType_isRefusedNamingThoseImplemented() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> new Rope("yarn", 10000, 1, 4, 0, 0, 16, 16));

        org.junit.jupiter.api.Assertions.assertTrue(error.getMessage().contains("[default, linear, dynamic, llama3]"),
                error.getMessage());
    }
}
