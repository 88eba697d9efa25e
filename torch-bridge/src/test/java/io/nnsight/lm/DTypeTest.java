package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.safetensors.DType;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Half precision: weights load in the type {@code Options.dtype} picks (by default the checkpoint's, as
 * transformers 5 does), converted as they load, and traces, batched invokes, generation with interventions,
 * saves and replaced outputs work in bfloat16 and float16 as in float32.
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
