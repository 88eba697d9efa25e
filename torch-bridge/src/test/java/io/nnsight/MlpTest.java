package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.Linear;
import io.nnsight.nn.Mlp;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The benchmark MLP: saved activations equal the layers applied by hand. */
class MlpTest {
    private final Mlp mlp = Models.mlp();
    private final NNsight model = NNsight.wrap(mlp);
    private final Tensor x = torch.randn(1, 64);

    @Test
    void twelveSaves_equalTheBlocksAppliedByHand() {
        List<Tensor> saved = model.trace(x, tr -> {
            List<Tensor> outputs = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                outputs.add(model.get("layers." + i).output());
            }
            return outputs;
        });

        Tensor h = x;
        for (int i = 0; i < 12; i++) {
            Linear linear = (Linear) mlp.layers().get(i).namedChildren().get("0");
            h = torch.relu(torch.linear(h, linear.weight(), new TensorOptional(linear.bias())));
            assertTrue(same(h, saved.get(i)), "layers." + i);
        }
    }

    @Test
    void logitLens_appliesTheHeadToEveryLayer() {
        List<Tensor> lens = model.trace(x, tr -> {
            List<Tensor> predictions = new ArrayList<>();
            for (Envoy layer : model.get("layers")) {
                predictions.add(model.get("head").call(layer.output()).argmax());
            }
            return predictions;
        });

        assertEquals(12, lens.size());
        Tensor h = x;
        for (int i = 0; i < 12; i++) {
            h = mlp.layers().get(i).forward(h);
            assertEquals(mlp.head().forward(h).argmax().item_long(), lens.get(i).item_long());
        }
    }

    @Test
    void ablation_ofOneBlock_matchesTheModelRunWithoutIt() {
        Tensor ablated = model.trace(x, tr -> {
            model.get("layers.6").output().zero_();
            return model.get("head").output();
        });

        Tensor h = x;
        for (int i = 0; i < 12; i++) {
            h = i == 6 ? torch.zeros(1, 64) : mlp.layers().get(i).forward(h);
        }
        assertTrue(same(mlp.head().forward(h), ablated));
    }

    @Test
    void batchOfInvokes_eachMatchesItsOwnForward() {
        Tensor a = torch.randn(3, 64);
        Tensor b = torch.randn(5, 64);

        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(a, () -> model.get("layers.11").output()),
                tr.invoke(b, () -> model.output())));

        Tensor h = a;
        for (int i = 0; i < 12; i++) {
            h = mlp.layers().get(i).forward(h);
        }
        assertTrue(same(h, outputs.get(0).get()));
        assertTrue(same(mlp.forward(b), outputs.get(1).get()));
    }
}
