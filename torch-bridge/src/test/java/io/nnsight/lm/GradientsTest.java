package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Envoy;
import io.nnsight.Invoke;
import io.nnsight.NotReachedException;
import io.nnsight.OutOfOrderException;
import io.nnsight.Tensors;
import io.nnsight.TraceException;
import io.nnsight.internal.engine.ThreadEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Gradients inside a trace ({@code tr.backward(metric, body)}) on stories260K, against nnsight 0.6.3's {@code with
 * metric.backward(): layer.output.grad} ({@code shared/models/stories260K/reference-extras.json}): the gradients
 * of layers 0, 2 and 4 for a logit difference, and the attribution {@code (grad * output).sum(-1)}, within 1e-4.
 */
class GradientsTest {
    private static LanguageModel lm;
    private static JsonObject extras;
    private static String prompt;
    private static long a;
    private static long b;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        extras = Shared.reference("models/stories260K/reference-extras.json");
        prompt = extras.get("prompt").getAsString();
        a = extras.getAsJsonObject("metric").get("a").getAsLong();
        b = extras.getAsJsonObject("metric").get("b").getAsLong();
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    private static Envoy layer(int index) {
        return lm.get("model.layers." + index);
    }

    /** The reference metric: the difference of two logits at the last position of the first row. */
    private static Tensor metric(Tensor logits, long row) {
        Tensor last = logits.select(0, row).select(0, logits.size(1) - 1);
        return last.select(0, a).sub(last.select(0, b));
    }

    @Test
    void gradientsOfLayerOutputs_matchNnsight_lastLayerFirst() {
        List<Tensor> grads = lm.trace(prompt, tr -> {
            List<Tensor> outputs = List.of(layer(0).output(), layer(2).output(), layer(4).output());
            Tensor metric = metric(lm.get("lm_head").output(), 0);
            return tr.backward(metric, () -> {
                Tensor g4 = layer(4).grad();
                Tensor g2 = layer(2).grad();
                Tensor g0 = layer(0).grad();
                List<Tensor> all = new ArrayList<>(List.of(g0, g2, g4));
                for (int i = 0; i < 3; i++) {
                    all.add(all.get(i).mul(outputs.get(i)).sum(-1).select(0, 0)); // attribution per position
                }
                return all;
            });
        });

        JsonArray expected = extras.getAsJsonArray("grads");
        JsonArray attributions = extras.getAsJsonArray("attribution_per_position");
        for (int i = 0; i < 3; i++) {
            JsonObject summary = expected.get(i).getAsJsonObject();
            Tensor grad = grads.get(i);
            assertArrayEquals(longs(summary.getAsJsonArray("shape")), Tensors.shape(grad));
            assertClose(summary.getAsJsonArray("first8"), Tensors.doubles(grad.reshape(-1).narrow(0, 0, 8)), 1e-4);
            assertEquals(summary.get("sum").getAsDouble(), grad.sum().item_double(), 1e-3);
            assertEquals(summary.get("l2").getAsDouble(), grad.norm().item_double(), 1e-4);
            assertClose(attributions.get(i).getAsJsonArray(), Tensors.doubles(grads.get(3 + i)), 1e-4);
        }
    }

    @Test
    void setGrad_changesTheGradientsBackwardPassesOn() {
        Function<Boolean, Tensor> gradOfLayer0 = zeroLayer3 -> lm.trace(prompt, tr -> {
            layer(0).output();
            layer(3).output();
            Tensor metric = metric(lm.get("lm_head").output(), 0);
            return tr.backward(metric, () -> {
                if (zeroLayer3) {
                    layer(3).setGrad(torch.zeros_like(layer(3).grad()));
                }
                return layer(0).grad();
            });
        });

        Tensor plain = gradOfLayer0.apply(false);
        Tensor zeroed = gradOfLayer0.apply(true);

        assertTrue(plain.abs().sum().item_double() > 0);
        assertEquals(0.0, zeroed.abs().sum().item_double(), "every path from layer 0 to the metric passes layer 3");
    }

    @Test
    void eachInvoke_runsItsOwnBackward_onItsOwnRows() {
        List<Invoke<Tensor>> grads = lm.trace(tr -> List.of(
                tr.invoke(prompt, () -> {
                    layer(2).output();
                    return tr.backward(metric(lm.get("lm_head").output(), 0), () -> layer(2).grad());
                }),
                tr.invoke("Once upon a time", () -> {
                    layer(2).output();
                    Tensor logits = lm.get("lm_head").output();
                    return tr.backward(logits.select(1, -1).select(1, 7).sum(), () -> layer(2).grad());
                })));
        Tensor alone = lm.trace(prompt, tr -> {
            layer(2).output();
            return tr.backward(metric(lm.get("lm_head").output(), 0), () -> layer(2).grad());
        });

        Tensor first = grads.get(0).get();
        assertEquals(1, first.size(0), "an invoke sees its own rows");
        // the first prompt is the longer: it is not padded, so its gradient equals the one of a trace of its own
        assertTrue(torch.allclose(alone, first, 1e-5, 1e-6, false));
        assertFalse(grads.get(1).get().abs().sum().item_double() == 0);
    }

    @Test
    void gradientOutOfBackwardsOrder_failsNamingBothModules() {
        OutOfOrderException error = assertThrows(OutOfOrderException.class, () -> lm.trace(prompt, tr -> {
            layer(1).output();
            layer(3).output();
            Tensor metric = metric(lm.get("lm_head").output(), 0);
            return tr.backward(metric, () -> {
                layer(1).grad();
                return layer(3).grad();
            });
        }));

        assertTrue(error.getMessage().startsWith("Asked for the gradient of the output of model.layers.3 (layers.3), "
                + "but the backward pass has already passed it: it is at the gradient of the output of model.layers.1 "
                + "(layers.1) now. "
                + "Ask for gradients in the order backward produces them, the last module first"), error.getMessage());
        assertTrue(lm.trace(prompt, tr -> lm.get("lm_head").output()).defined(), "the model is usable");
    }

    @Test
    void gradientOfAModuleOffTheMetricsGraph_isNotReached() {
        NotReachedException error = assertThrows(NotReachedException.class, () -> lm.trace(prompt, tr -> {
            Tensor embedded = lm.get("model.embed_tokens").output();
            layer(2).output();
            return tr.backward(embedded.sum(), () -> layer(2).grad().sum()); // layer 2 comes after the metric
        }));

        assertTrue(error.getMessage().contains("the gradient of the output of model.layers.2 (layers.2) was never reached"),
                error.getMessage());
    }

    @Test
    void gradientOfAnOutputNotReadInTheForwardPass_saysToReadIt() {
        TraceException error = assertThrows(TraceException.class, () -> lm.trace(prompt, tr -> {
            Tensor metric = metric(lm.get("lm_head").output(), 0);
            return tr.backward(metric, () -> layer(2).grad());
        }));

        assertTrue(error.getMessage().contains("the output of model.layers.2 (layers.2) was not read in the forward pass"),
                error.getMessage());
    }

    @Test
    void metricWithoutAGraph_saysWhy() {
        TraceException error = assertThrows(TraceException.class, () -> lm.trace(prompt, tr -> {
            Tensor metric = lm.get("lm_head").output().detach().sum();
            return tr.backward(metric, () -> null);
        }));

        assertTrue(error.getMessage().contains("is on no autograd graph"), error.getMessage());
    }

    @Test
    void backward_accumulatesNoParameterGradient() {
        lm.trace(prompt, tr -> {
            layer(4).output();
            return tr.backward(metric(lm.get("lm_head").output(), 0), () -> layer(4).grad().sum());
        });

        assertFalse(((io.nnsight.nn.RMSNorm) lm.get("model.norm").module()).weight().grad().defined());
    }

    private static long[] longs(JsonArray array) {
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).getAsLong();
        }
        return values;
    }

    private static void assertClose(JsonArray expected, double[] actual, double tolerance) {
        assertEquals(expected.size(), actual.length);
        for (int i = 0; i < actual.length; i++) {
            assertEquals(expected.get(i).getAsDouble(), actual[i], tolerance, "element " + i);
        }
    }
}
