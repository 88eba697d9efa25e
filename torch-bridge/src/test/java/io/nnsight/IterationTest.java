package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Iterations: a module called three times in one forward pass, read with tr.iter(...) and tr.next(). */
class IterationTest {
    private Models.Repeated net;
    private NNsight model;
    private Tensor input;
    private List<Tensor> calls;

    @BeforeEach
    void setUp() {
        net = new Models.Repeated();
        model = NNsight.wrap(net);
        input = torch.rand(1, 4);
        calls = new ArrayList<>();
        Tensor x = input;
        for (int i = 0; i < 3; i++) {
            x = net.layer.forward(x);
            calls.add(x);
        }
    }

    @AfterEach
    void noBodyLeft() {
        Models.assertNoBodyThreads();
    }

    @Test
    void output_byDefault_isTheFirstCall() {
        Tensor first = model.trace(input, tr -> model.get("layer").output());

        assertTrue(same(calls.get(0), first));
    }

    @Test
    void iterAll_visitsEveryCall_andTheCodeAfterTheLoopRuns() {
        List<Tensor> outputs = model.trace(input, tr -> {
            List<Tensor> seen = new ArrayList<>();
            for (int step : tr.iter(Steps.all())) {
                seen.add(model.get("layer").output());
            }
            seen.add(torch.zeros(1));
            return seen;
        });

        assertEquals(4, outputs.size());
        for (int i = 0; i < 3; i++) {
            assertTrue(same(calls.get(i), outputs.get(i)), "call " + i);
        }
    }

    @Test
    void afterAnUnboundedLoop_theRunHasEnded_soLaterModulesAreReadInAnotherInvoke() {
        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(input, () -> {
                    Tensor last = null;
                    for (int step : tr.all()) {
                        last = model.get("layer").output();
                    }
                    return last;
                }),
                tr.invoke(() -> model.get("head").output())));

        assertTrue(same(calls.get(2), outputs.get(0).get()));
        assertTrue(same(net.forward(input), outputs.get(1).get()));
        OutOfOrderException error = assertThrows(OutOfOrderException.class, () -> model.trace(input, tr -> {
            for (int step : tr.all()) {
                model.get("layer").output();
            }
            return model.get("head").output();
        }));
        assertTrue(error.getMessage().contains("its end"), error.getMessage());
    }

    @Test
    void all_isIterAll() {
        List<Integer> steps = model.trace(input, tr -> {
            List<Integer> visited = new ArrayList<>();
            for (int step : tr.all()) {
                model.get("layer").output();
                visited.add(step);
            }
            return visited;
        });

        assertEquals(List.of(0, 1, 2), steps);
    }

    @Test
    void iterRange_visitsItsSteps() {
        List<Tensor> outputs = model.trace(input, tr -> {
            List<Tensor> seen = new ArrayList<>();
            for (int step : tr.iter(Steps.range(1, 3))) {
                seen.add(model.get("layer").output());
            }
            return seen;
        });

        assertEquals(2, outputs.size());
        assertTrue(same(calls.get(1), outputs.get(0)));
        assertTrue(same(calls.get(2), outputs.get(1)));
    }

    @Test
    void iterList_andOneStep() {
        List<Tensor> outputs = model.trace(input, tr -> {
            List<Tensor> seen = new ArrayList<>();
            for (int step : tr.iter(Steps.of(2, 0))) {
                seen.add(model.get("layer").output());
            }
            return seen;
        });
        Tensor third = model.trace(input, tr -> {
            Tensor seen = null;
            for (int step : tr.iter(Steps.at(2))) {
                seen = model.get("layer").output();
            }
            return seen;
        });

        assertTrue(same(calls.get(0), outputs.get(0)));
        assertTrue(same(calls.get(2), outputs.get(1)));
        assertTrue(same(calls.get(2), third));
    }

    @Test
    void editInOneIteration_appliesToThatCallOnly() {
        Tensor output = model.trace(input, tr -> {
            for (int step : tr.iter(Steps.at(1))) {
                model.get("layer").output().zero_();
            }
            return model.get("head").output();
        });

        Tensor expected = net.head.forward(net.layer.forward(torch.zeros(1, 4)));
        assertTrue(same(expected, output));
    }

    @Test
    void next_movesToTheNextCall() {
        List<Tensor> outputs = model.trace(input, tr -> {
            Tensor first = model.get("layer").output();
            tr.next();
            Tensor second = model.get("layer").output();
            return List.of(first, second, Tensor.class.cast(tr.iteration() == 1 ? second : first));
        });

        assertTrue(same(calls.get(0), outputs.get(0)));
        assertTrue(same(calls.get(1), outputs.get(1)));
    }

    @Test
    void loopEnd_restoresTheIterationBeforeIt() {
        int after = model.trace(input, tr -> {
            for (int step : tr.iter(Steps.range(0, 2))) {
                model.get("layer").output();
            }
            return tr.iteration();
        });

        assertEquals(0, after);
    }

    @Test
    void iterationBeyondTheCalls_failsSayingHowOftenTheModuleRan() {
        NotReachedException error = assertThrows(NotReachedException.class, () -> model.trace(input, tr -> {
            for (int step : tr.iter(Steps.range(0, 5))) {
                model.get("layer").output();
            }
            return null;
        }));

        assertTrue(error.getMessage().contains("iteration 3"), error.getMessage());
        assertTrue(error.getMessage().contains("ran 3 times"), error.getMessage());
    }

    @Test
    void unboundedLoopOverAModuleCalledOnce_endsAfterOneStep() {
        List<Integer> steps = model.trace(input, tr -> {
            List<Integer> visited = new ArrayList<>();
            for (int step : tr.all()) {
                model.get("head").output();
                visited.add(step);
            }
            return visited;
        });

        assertEquals(List.of(0), steps);
    }

    @Test
    void iterationsInTwoInvokes_areIndependent() {
        List<Invoke<Tensor>> outputs = model.trace(tr -> List.of(
                tr.invoke(input, () -> model.get("layer").output()),
                tr.invoke(input, () -> {
                    tr.next();
                    tr.next();
                    return model.get("layer").output();
                })));

        assertTrue(same(calls.get(0), outputs.get(0).get()));
        assertTrue(same(calls.get(2), outputs.get(1).get()));
    }
}
