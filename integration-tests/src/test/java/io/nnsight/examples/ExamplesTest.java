package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.nn.Mlp;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The README's example, run as a user would, and a short memory soak. */
class ExamplesTest {
    @Test
    void readmeExample_zeroingABlock_changesTheHeadOutput_asTheModelRunByHandSays() {
        torch.manual_seed(0);
        Mlp mlp = new Mlp(64, 12, 10);
        // The README's example:
        NNsight model = NNsight.wrap(mlp);
        Tensor x = torch.randn(1, 64);
        Tensor logits = model.trace(x, tr -> {
            Tensor hidden = model.get("layers.5").output(); // waits until layers.5 has run
            hidden.zero_();                                  // edits the live activation
            return model.get("head").output();               // the rest of the model ran on the edit
        });

        Tensor h = torch.zeros(1, 64);
        for (int i = 6; i < 12; i++) {
            h = mlp.layers().get(i).forward(h);
        }
        assertTrue(torch.allclose(mlp.head().forward(h), logits));
    }

    @Test
    void soak_ofScopedTraces_leavesNoNativeObjectsBehind() {
        torch.manual_seed(0);
        NNsight model = NNsight.wrap(new Mlp(64, 12, 10));
        Tensor x = torch.randn(1, 64);
        model.trace(x, tr -> model.get("layers.0").output());
        long before = Pointer.totalCount();

        for (int i = 0; i < 5_000; i++) {
            try (PointerScope scope = new PointerScope()) {
                model.trace(x, tr -> java.util.List.of(model.get("layers.0").output(), model.get("layers.3").output()));
            }
        }

        assertTrue(Pointer.totalCount() <= before, "native objects grew from " + before + " to " + Pointer.totalCount());
    }
}
