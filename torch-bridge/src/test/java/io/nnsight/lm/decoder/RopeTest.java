package io.nnsight.lm.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Tensors;
import io.nnsight.safetensors.DType;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The rotary types' inverse frequencies against transformers 5.18's {@code ROPE_INIT_FUNCTIONS} for heads of 8
 * dimensions (printed by {@code LlamaConfig(hidden_size=32, num_attention_heads=4, head_dim=8,
 * max_position_embeddings=16, rope_parameters=...)}; those of {@code yarn} and {@code longrope} by {@code
 * src/test/python/rope_scaling_references.py}); {@code llama3} is also checked end to end by {@code
 * llama3-bf16-tiny}'s reference, {@code yarn} and {@code longrope} by {@code RopeScalingTest}.
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
    void yarn_givesTransformersFrequencies_andAttentionFactor() {
        Rope plain = new Rope("yarn", 10000, 1, 4, 0, 0, 64, 256, new Rope.Yarn(32, 1, true,
                Rope.Yarn.attentionFactor(4, null, null)), null);
        Rope tuned = new Rope("yarn", 10000, 1, 4, 0, 0, 64, 256, new Rope.Yarn(16, 2, false,
                Rope.Yarn.attentionFactor(4, 0.707, 1.0)), null);

        assertArrayEquals(new float[] {1.0f, 0.0625f, 0.0024999999441206455f, 0.0002500000118743628f},
                frequencies(plain, 0), 1e-9f);
        assertEquals(1.138629436111989, plain.attentionFactor(), 1e-12);
        assertArrayEquals(new float[] {1.0f, 0.02500000037252903f, 0.0024999999441206455f, 0.0002500000118743628f},
                frequencies(tuned, 0), 1e-9f);
        assertEquals(0.964326914892074, tuned.attentionFactor(), 1e-12);
    }

    @Test
    void longrope_givesTransformersShortFrequenciesWithinTheOriginalContext_andLongOnesBeyond() {
        Rope rope = new Rope("longrope", 10000, 1, 4, 0, 0, 16, 64, null, new Rope.LongRope(List.of(1.0, 1.1, 1.3, 1.7),
                List.of(1.0, 2.0, 4.0, 8.0), Rope.LongRope.attentionFactor(4, 16)));

        float[] shortFrequencies = {1.0f, 0.09090909361839294f, 0.007692307699471712f, 0.0005882352706976235f};
        assertArrayEquals(shortFrequencies, frequencies(rope, 0), 1e-9f);
        assertArrayEquals(shortFrequencies, frequencies(rope, 16), 1e-9f);
        assertArrayEquals(new float[] {1.0f, 0.05000000074505806f, 0.0024999999441206455f, 0.0001250000059371814f},
                frequencies(rope, 17), 1e-9f);
        assertEquals(1.224744871391589, rope.attentionFactor(), 1e-12);
    }

    @Test
    void longrope_withFactorsNotOnePerFrequency_isRefusedSayingHowManyItNeeds() {
        Rope rope = new Rope("longrope", 10000, 1, 4, 0, 0, 16, 64, null, new Rope.LongRope(List.of(1.0, 1.1),
                List.of(1.0, 2.0), 1.0));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> frequencies(rope, 0));

        assertTrue(error.getMessage().contains("2 factors") && error.getMessage().contains("4 frequencies"),
                error.getMessage());
    }

    @Test
    void anotherType_isRefusedNamingThoseImplemented() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> new Rope("proportional", 10000, 1, 4, 0, 0, 16, 16));

        assertTrue(error.getMessage().contains("[default, linear, dynamic, llama3, yarn, longrope]"), error.getMessage());
    }
}
