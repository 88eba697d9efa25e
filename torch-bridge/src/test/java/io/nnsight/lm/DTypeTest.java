package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.safetensors.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Half precision: weights load in the type {@code Options.dtype} picks (by default the checkpoint's, as
 * transformers 5 does), converted as they load, and traces, batched invokes, generation with interventions,
 * saves and replaced outputs work in bfloat16 and float16 as in float32; in float16, logits and greedy tokens are
 * transformers' (bfloat16's are checked by {@code FamilyReferenceTest} on {@code llama3-bf16-tiny}).
 */
class DTypeTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";

    private static LanguageModel load(String fixture, DType dtype) {
        LanguageModel.Options options = LanguageModel.Options.defaults();
        return LanguageModel.load(Shared.path("fixtures/" + fixture).toString(), dtype == null ? options : options.dtype(dtype));
    }

    private static void assertParametersAre(DType dtype, LanguageModel lm) {
        StringTensorDict parameters = lm.module().named_parameters(true);
        for (long i = 0; i < parameters.size(); i++) {
            assertEquals(dtype, DType.of(parameters.get(i).value().scalar_type()), parameters.get(i).key().getString());
        }
        assertEquals(dtype, lm.dtype());
    }

    @Test
    void weights_loadInTheCheckpointsType_orTheChosenOne() {
        assertParametersAre(DType.F32, load("qwen3-tiny", null));
        assertParametersAre(DType.BF16, load("llama3-bf16-tiny", null));
        assertParametersAre(DType.F32, load("llama3-bf16-tiny", DType.F32));
        assertParametersAre(DType.BF16, load("qwen3-tiny", DType.BF16));
        assertParametersAre(DType.F16, load("gemma2-tiny", DType.F16));
    }

    /** What transformers gives for a fixture in float16, printed by {@code src/test/python/f16_references.py}. */
    record Float16(String fixture, double[] logits, double sum, double l2, long[] greedy) {
        @Override
        public String toString() {
            return fixture;
        }
    }

    static Stream<Float16> float16() {
        return Stream.of(
            new Float16("qwen2-tiny", new double[] {-0.1824951, -0.0458679, -0.0133514, -0.0163269, 0.1905518, -0.0339966,
                0.0249481, -0.2374268}, -1.486336, 2.595764, new long[] {76, 445, 76, 445, 76, 445, 76, 445, 438, 389}),
            new Float16("gemma2-tiny", new double[] {0.0, 0.1298828, -0.0004256, -0.0080566, 0.0761108, 0.0398254,
                0.0545044, 0.0107193}, 2.802976, 2.378427, new long[] {74, 74, 250, 450, 209, 209, 415, 415, 415, 371}),
            new Float16("pythia-tiny", new double[] {0.0643921, 0.1405029, 0.0281372, -0.0523682, -0.0180359, -0.2315674,
                0.2279053, 0.0853882}, 2.975628, 2.671481, new long[] {374, 431, 193, 374, 431, 193, 374, 431, 193, 374}));
    }

    /**
     * Float16 end to end, against transformers in float16: the logits within 1e-3 (float16 keeps about three
     * significant digits, and the two sides round a few operations in different orders; their sums within 5e-3) and ten
     * greedy tokens exactly.
     */
    @ParameterizedTest
    @MethodSource("float16")
    void float16_logitsAndGreedyTokens_matchTransformersInFloat16(Float16 expected) {
        String prompt = "Once upon a time, there was a little girl named Lily. She loved to play";
        LanguageModel lm = load(expected.fixture(), DType.F16);

        Tensor logits = lm.trace(prompt, tr -> lm.output().select(0, 0).select(0, -1).to(torch.ScalarType.Float));
        long[] ids = lm.generate(prompt, Generation.maxNewTokens(10)).ids(0);

        Shared.assertClose(expected.logits(), logits, 1e-3, "float16 logits");
        assertEquals(expected.sum(), logits.sum().item_double(), 5e-3, "sum of the logits");
        assertEquals(expected.l2(), logits.norm().item_double(), 5e-3, "L2 of the logits");
        assertArrayEquals(expected.greedy(), Arrays.copyOfRange(ids, ids.length - 10, ids.length));
    }

    @Test
    void aTypeThatIsNotFloatingPoint_isRefusedNamingThoseThatAre() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> LanguageModel.Options.defaults().dtype(DType.I64));

        assertTrue(error.getMessage().contains("I64") && error.getMessage().contains("F32, BF16, F16"), error.getMessage());
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void aTrace_runsInHalfPrecision_closeToFloat32(DType dtype) {
        for (String fixture : List.of("qwen3-tiny", "gemma2-tiny", "pythia-tiny", "phi3-tiny")) {
            LanguageModel half = load(fixture, dtype);
            LanguageModel full = FamilyReferenceTest.model(fixture);

            Tensor logits = half.trace(PROMPT, tr -> {
                assertEquals(dtype, DType.of(half.get(half.paths().layer(1)).output().scalar_type()));
                return half.output().select(1, -1);
            });
            Tensor reference = full.trace(PROMPT, tr -> full.output().select(1, -1));

            assertEquals(dtype, DType.of(logits.scalar_type()), fixture);
            double difference = logits.to(torch.ScalarType.Float).sub(reference).abs().max().item_double();
            assertTrue(difference < 2e-2, fixture + " in " + dtype + ": logits differ by " + difference);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void batchesGenerationSavesAndReplacements_workInHalfPrecision(DType dtype) {
        LanguageModel lm = load("mistral-tiny", dtype);
        String mlp = lm.paths().mlp(1);

        List<Invoke<Tensor>> batched = lm.trace(tr -> List.of(
                tr.invoke("Lily and Tom", () -> lm.output().select(1, -1)),
                tr.invoke(PROMPT, () -> lm.output().select(1, -1))));
        Tensor alone = lm.trace("Lily and Tom", tr -> lm.output().select(1, -1));
        assertTrue(batched.get(0).get().sub(alone).abs().max().item_double() < 1e-2, "batched with padding, as alone");

        List<Tensor> saved = new ArrayList<>();
        Tensor ids = lm.generate(PROMPT, Generation.maxNewTokens(5).stopAtEos(false), tr -> {
            for (int step : tr.all()) {
                Tensor out = lm.get(mlp).output();
                saved.add(NNsight.save(out));
                lm.get(mlp).setOutput(out.mul(new Scalar(0.5)));
            }
            return lm.generator().output();
        });

        assertEquals(5, saved.size());
        for (Tensor value : saved) {
            assertEquals(dtype, DType.of(value.scalar_type()));
            assertTrue(torch.isfinite(value).all().item_bool(), "a saved value is readable after the generation");
        }
        assertEquals(lm.tokenizer().encode(PROMPT).length + 5, ids.size(1));
        Tensor probabilities = lm.trace(PROMPT, tr -> lm.get(lm.paths().attention(0) + ".attention_probs").output());
        assertEquals(dtype, DType.of(probabilities.scalar_type()));
        assertTrue(probabilities.to(torch.ScalarType.Float).sum(new long[] {-1}, false, null).sub(new Scalar(1)).abs().max()
                .item_double() < 1e-2, "each row of the pattern sums to 1");
    }
}
