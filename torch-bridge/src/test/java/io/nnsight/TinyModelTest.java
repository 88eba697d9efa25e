package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.Linear;
import io.nnsight.spi.HookPoint;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** nnsight's {@code test_tiny.py}, on its tiny model: Linear(5, 10) then Linear(10, 2), input rand(1, 5). */
class TinyModelTest extends TinyModelFixture {
    @Test
    void trace_returnsOutput_equalToTheModuleRunByHand() {
        Tensor hidden = model.trace(input, tr -> model.get("layer2").output());

        assertInstanceOf(Tensor.class, hidden);
        assertTrue(same(net.forward(input), hidden));
    }

    @Test
    void trace_returnsSeveralValues_inARecord() {
        record Activations(Tensor first, Tensor second) {}

        Activations activations = model.trace(input, tr -> new Activations(
                model.get("layer1").output().clone(), model.get("layer2").output()));

        Tensor first = layer("layer1").forward(input);
        assertTrue(same(first, activations.first()));
        assertTrue(same(layer("layer2").forward(first), activations.second()));
    }

    @Test
    void inputs_areTheArgumentsOfTheCall() {
        Inputs inputs = model.trace(input, tr -> model.get("layer2").inputs());

        assertEquals(1, inputs.size());
        assertTrue(same(layer("layer1").forward(input), inputs.tensor(0)));
    }

    @Test
    void input_ofTheRoot_isTheTraceInput() {
        Tensor seen = model.trace(input, tr -> model.input());

        assertTrue(same(input, seen));
    }

    @Test
    void inPlaceEdit_changesWhatTheModelComputesNext() {
        Tensor output = model.trace(input, tr -> {
            model.get("layer1").output().fill_(new Scalar(1.0));
            return model.get("layer2").output();
        });

        assertTrue(same(layer("layer2").forward(torch.ones(1, 10)), output));
    }

    @Test
    void setOutput_replacesTheValueTheModelContinuesWith() {
        Tensor replacement = torch.full(new long[] {1, 10}, new Scalar(0.5));

        Tensor output = model.trace(input, tr -> {
            model.get("layer1").setOutput(replacement);
            return model.get("layer2").output();
        });

        assertTrue(same(layer("layer2").forward(replacement), output));
    }

    @Test
    void setInput_makesTheModuleRunOnTheNewValue() {
        Tensor replacement = torch.zeros(1, 10);

        Tensor output = model.trace(input, tr -> {
            model.get("layer2").setInput(replacement);
            return model.get("layer2").output();
        });

        assertTrue(same(layer("layer2").forward(replacement), output));
    }

    @Test
    void trueCondition_appliesTheEdit() {
        int num = 5;
        Tensor first = model.trace(input, tr -> {
            if (num > 0) {
                model.get("layer1").output().fill_(new Scalar(1.0));
            }
            return model.get("layer1").output();
        });

        assertTrue(torch.all(first.eq(new Scalar(1.0))).item_bool());
    }

    @Test
    void falseCondition_skipsTheEditButNotTheReadsAfterIt() {
        int num = 5;
        Tensor second = model.trace(input, tr -> {
            if (num < 0) {
                model.get("layer1").output().fill_(new Scalar(1.0));
            }
            return model.get("layer2").output();
        });

        assertTrue(same(net.forward(input), second));
    }

    @Test
    void tensorCondition_isEvaluatedOnTheLiveValue() {
        AtomicReference<Boolean> branchTaken = new AtomicReference<>();
        model.trace(input, tr -> {
            Tensor out = model.get("layer1").output();
            out.select(1, 0).fill_(new Scalar(1.0));
            branchTaken.set(out.select(1, 0).ne(new Scalar(1.0)).item_bool());
            return null;
        });

        assertFalse(branchTaken.get());
    }

    @Test
    void dependentConditionals_seeEachOthersEdits() {
        int num = 5;
        Tensor second = model.trace(input, tr -> {
            Tensor first = model.get("layer1").output();
            if (num > 0) {
                first.fill_(new Scalar(1.0));
            }
            Tensor out = model.get("layer2").output();
            if (first.select(1, 0).ne(new Scalar(1.0)).item_bool()) {
                out.fill_(new Scalar(2.0));
            }
            if (first.select(1, 0).eq(new Scalar(1.0)).item_bool()) {
                out.fill_(new Scalar(3.0));
            }
            return out;
        });

        assertTrue(torch.all(second.eq(new Scalar(3.0))).item_bool());
    }

    @Test
    void nestedConditionals_applyOnlyTheTakenBranches() {
        int num = 5;
        List<Tensor> saved = new ArrayList<>();
        model.trace(input, tr -> {
            if (num > 0) {
                Tensor first = model.get("layer1").output();
                if (num > 0) {
                    first.fill_(new Scalar(1.0));
                }
                if (num < 0) {
                    first.fill_(new Scalar(2.0));
                }
                saved.add(NNsight.save(first));
            }
            if (num < 0) {
                model.get("layer2").output().zero_();
                saved.add(NNsight.save(model.get("layer2").output()));
            }
            return null;
        });

        assertEquals(1, saved.size());
        assertTrue(torch.all(saved.get(0).eq(new Scalar(1.0))).item_bool());
    }

    @Test
    void stop_keepsValuesReadBefore_andRunsNoLaterModule() {
        AtomicInteger layer2Calls = new AtomicInteger();
        HookPoint.Registration counter = layer("layer2").hookPoint().add((inputs, proceed) -> {
            layer2Calls.incrementAndGet();
            return proceed.apply(inputs);
        });
        try {
            Tensor first = model.trace(input, tr -> {
                Tensor out = model.get("layer1").output();
                tr.stop();
                return out;
            });

            assertTrue(same(layer("layer1").forward(input), first));
            assertEquals(0, layer2Calls.get(), "layer2 ran after tr.stop()");
        } finally {
            counter.close();
        }
    }

    @Test
    void stop_thenAskingForALaterModule_failsWithNotReached() {
        NotReachedException error = assertThrows(NotReachedException.class, () -> model.trace(input, tr -> {
            Tensor first = model.get("layer1").output();
            tr.stop();
            return first.mul(new Scalar(2.0)).add(model.get("layer2").output().sum());
        }));

        assertTrue(error.getMessage().contains("tr.stop()"), error.getMessage());
    }

    @Test
    void stop_leavesTheModelUsable() {
        model.trace(input, tr -> {
            tr.stop();
            return null;
        });

        Tensor output = model.trace(input, tr -> model.get("layer2").output());
        assertTrue(same(net.forward(input), output));
    }

    @Test
    void tensorCreation_insideATrace_works() {
        List<Tensor> made = model.trace(input, tr -> {
            Tensor out = model.get("layer1").output();
            long rows = out.size(0);
            long columns = out.size(1);
            return List.of(torch.arange(new Scalar(rows), new Scalar(columns)), torch.empty(rows, columns),
                    torch.eye(rows), torch.full(new long[] {rows, columns}, new Scalar(5)),
                    torch.linspace(new Scalar(rows), new Scalar(columns), 5), torch.ones(rows, columns),
                    torch.rand(rows, columns), torch.randn(rows, columns), torch.randperm(rows),
                    torch.zeros(rows, columns));
        });

        assertEquals(10, made.size());
        assertEquals(9, made.get(0).size(0));
        assertEquals(50.0, made.get(3).sum().item_double(), 1e-4);
    }

    @Test
    void valuesFromOneTrace_canBeReadAndEditedInTheNext() {
        Tensor first = model.trace(input, tr -> model.get("layer1").output());

        Tensor second = model.trace(input, tr -> {
            first.select(1, 2).fill_(new Scalar(5.0));
            return model.get("layer2").output();
        });

        assertEquals(5.0, first.select(1, 2).item_double(), 1e-6);
        assertNotNull(second);
    }

    @Test
    void traces_inLoopsAndConditionals_runWhenReached() {
        List<Integer> traced = new ArrayList<>();
        for (int item : new int[] {0, 1, 2}) {
            if (item % 2 == 0) {
                model.trace(input, tr -> {
                    traced.add(item);
                    return null;
                });
            }
        }

        assertEquals(List.of(0, 2), traced);
    }

    @Test
    void outerValues_areUsableInsideTheBody() {
        double value = 0;

        Tensor first = model.trace(input, tr -> {
            model.get("layer1").output().fill_(new Scalar(value));
            return model.get("layer1").output();
        });

        assertTrue(torch.all(first.eq(new Scalar(0.0))).item_bool());
    }
}
