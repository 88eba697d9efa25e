package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.internal.engine.ThreadEngine;
import io.nnsight.nn.Mlp;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The README's example and demo, run as a user would, and a short memory soak. */
class DemoTest {
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
    void demo_runsAllItsSteps() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Demo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String printed = bytes.toString(StandardCharsets.UTF_8);

        assertTrue(printed.contains("layers.5 output: shape [1, 64]"), printed);
        Matcher lens = Pattern.compile("logit lens, prediction after each block: \\[([0-9, ]+)]").matcher(printed);
        assertTrue(lens.find(), printed);
        assertEquals(12, lens.group(1).split(", ").length);
        assertTrue(printed.contains("patched from the first"), printed);
        assertEquals(0, ThreadEngine.liveBodies());
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
