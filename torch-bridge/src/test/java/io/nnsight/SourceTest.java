package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.lm.decoder.GatedMlp;
import io.nnsight.nn.Linear;
import io.nnsight.spi.NativeHookPoints;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code .source}: the calls inside a module's code, read and changed like module outputs (needs the agent). */
class SourceTest extends TinyModelFixture {
    @BeforeEach
    void underTheAgent() {
        assertTrue(NativeHookPoints.callSitesEnabled(), "these tests run under the nnsight agent");
    }

    @Test
    void source_listsTheCallsOfForward_withTheirLines() {
        Source source = model.get("layer1").source();

        assertEquals(List.of("linear_0"), source.operations().stream().map(Operation::name).toList());
        assertEquals("torch.linear", source.op("linear_0").call());
        assertTrue(source.op("linear_0").line() > 0);
        assertTrue(source.toString().contains("linear_0"), source.toString());
    }

    @Test
    void operationOutput_isTheCallsResult() {
        Tensor viaOperation = model.trace(input, tr -> model.get("layer1").source().op("linear_0").output());

        assertTrue(Models.same(layer("layer1").forward(input), viaOperation));
    }

    @Test
    void operationInputs_includeTheArguments() {
        Inputs inputs = model.trace(input, tr -> model.get("layer2").source().op("linear_0").inputs());

        assertTrue(Models.same(layer("layer1").forward(input), inputs.tensor(0)));
        assertTrue(Models.same(layer("layer2").weight(), inputs.tensor(1)));
    }

    @Test
    void replacingAnOperation_changesTheModule() {
        Tensor output = model.trace(input, tr -> {
            model.get("layer1").source().op("linear_0").setOutput(torch.zeros(1, 10));
            return model.get("layer2").output();
        });

        assertTrue(Models.same(layer("layer2").forward(torch.zeros(1, 10)), output));
    }

    @Test
    void languageModel_mlpOperations_matchTheirFormula() {
        LanguageModel lm = LanguageModel.load(Shared.path("models/stories260K").toString());
        Envoy mlp = lm.get("model.layers.2.mlp");
        List<String> names = mlp.source().operations().stream().map(Operation::name).toList();
        assertTrue(names.contains("mul_0") && names.contains("forward_0"), names.toString());

        List<Tensor> seen = lm.trace("Once upon a time", tr -> List.of(mlp.input(), mlp.source().op("mul_0").output(),
                mlp.output()));

        GatedMlp module = (GatedMlp) mlp.module();
        Linear gate = (Linear) module.namedChildren().get("gate_proj");
        Linear up = (Linear) module.namedChildren().get("up_proj");
        Tensor expected = torch.silu(gate.forward(seen.get(0))).mul(up.forward(seen.get(0)));
        assertTrue(Models.same(expected, seen.get(1)));
        assertTrue(Models.same(((Linear) module.namedChildren().get("down_proj")).forward(seen.get(1)), seen.get(2)));
    }

    @Test
    void operationInALoop_isOneIterationPerCall() {
        Models.Looped looped = new Models.Looped();
        NNsight wrapped = NNsight.wrap(looped);
        Tensor x = torch.rand(1, 4);
        List<Tensor> expected = new java.util.ArrayList<>();
        Tensor hidden = x;
        for (int i = 0; i < 3; i++) {
            hidden = torch.relu(looped.layer.forward(hidden));
            expected.add(hidden);
        }

        assertEquals(List.of("forward_0", "relu_0", "forward_1"),
                wrapped.source().operations().stream().map(Operation::name).toList());
        List<Tensor> calls = wrapped.trace(x, tr -> {
            List<Tensor> seen = new java.util.ArrayList<>();
            for (int step : tr.iter(Steps.range(0, 3))) {
                seen.add(wrapped.source().op("relu_0").output());
            }
            return seen;
        });

        assertEquals(3, calls.size());
        for (int i = 0; i < 3; i++) {
            assertTrue(Models.same(expected.get(i), calls.get(i)), "call " + i);
        }
    }

    @Test
    void unknownOperation_namesTheCloseOnes() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> model.get("layer1").source().op("linaer_0"));

        assertTrue(error.getMessage().contains("linear_0"), error.getMessage());
    }

    @Test
    void outsideTraces_theCodeRunsUnchanged() {
        Tensor direct = net.forward(input);
        Tensor manual = torch.linear(torch.linear(input, layer("layer1").weight(),
                new org.bytedeco.pytorch.TensorOptional(layer("layer1").bias())), layer("layer2").weight(),
                new org.bytedeco.pytorch.TensorOptional(layer("layer2").bias()));

        assertTrue(Models.same(manual, direct));
        assertTrue(Models.same(net.forward(input).mul(new Scalar(1.0)), direct));
    }
}
