package io.nnsight;

import static org.junit.jupiter.api.Assertions.*;

import io.nnsight.nn.Linear;
import io.nnsight.nn.Sequential;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void trace_savesOutput() {
        Sequential net = new Sequential().add("layer1", new Linear(5, 10)).add("layer2", new Linear(10, 2));
        NNsight model = NNsight.wrap(net);
        System.out.println(model);
        Tensor x = torch.rand(1, 5);
        Tensor out = model.trace(x, tr -> model.get("layer2").output());
        Tensor expected = net.forward(x);
        assertTrue(torch.allclose(out, expected));
        Tensor l1 = model.trace(x, tr -> {
            Tensor h = model.get("layer1").output();
            h.zero_();
            return model.get("layer2").output();
        });
        System.out.println(l1);
    }
}
