package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.Linear;
import io.nnsight.nn.Sequential;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** nnsight's {@code test_multiple_wrappers.py}: several wrappers of one model work independently. */
class MultipleWrappersTest {
    private Sequential shared;
    private Tensor input;
    private Tensor expected;

    @BeforeEach
    void setUp() {
        shared = Models.tiny();
        input = Models.tinyInput();
        expected = shared.forward(input);
    }

    @AfterEach
    void noBodyLeft() {
        Models.assertNoBodyThreads();
    }

    private static Tensor output(NNsight wrapper, Tensor input) {
        return wrapper.trace(input, tr -> wrapper.get("layer2").output());
    }

    @Test
    void twoWrappers_bothWork() {
        NNsight first = NNsight.wrap(shared);
        NNsight second = NNsight.wrap(shared);

        assertTrue(same(expected, output(first, input)));
        assertTrue(same(expected, output(second, input)));
    }

    @Test
    void modifications_inOneWrapper_doNotReachTheOther() {
        NNsight first = NNsight.wrap(shared);
        NNsight second = NNsight.wrap(shared);

        Tensor modified = first.trace(input, tr -> {
            first.get("layer1").output().zero_();
            return first.get("layer2").output();
        });

        assertFalse(same(expected, modified));
        assertTrue(same(expected, output(second, input)));
    }

    @Test
    void interleavedUse_andThreeWrappers() {
        NNsight first = NNsight.wrap(shared);
        NNsight second = NNsight.wrap(shared);
        NNsight third = NNsight.wrap(shared);

        assertTrue(same(expected, output(first, input)));
        assertTrue(same(expected, output(second, input)));
        assertTrue(same(expected, output(first, input)));
        assertTrue(same(expected, output(third, input)));
    }

    @Test
    void manyWrappers_stayConsistent() {
        List<NNsight> wrappers = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            wrappers.add(NNsight.wrap(shared));
        }
        for (NNsight wrapper : wrappers) {
            assertTrue(same(expected, output(wrapper, input)));
        }
    }

    @Test
    void rapidCreationAndUse_givesTheSameOutputs() {
        for (int i = 0; i < 20; i++) {
            assertTrue(same(expected, output(NNsight.wrap(shared), input)));
        }
    }

    @Test
    void skip_inOneWrapper_isOnlyThere() {
        NNsight first = NNsight.wrap(shared);
        NNsight second = NNsight.wrap(shared);

        Tensor skipped = first.trace(input, tr -> {
            first.get("layer2").skip(torch.zeros(1, 2));
            return first.output();
        });

        assertTrue(torch.all(skipped.eq(new Scalar(0.0))).item_bool());
        assertTrue(same(expected, second.trace(input, tr -> second.output())));
    }

    @Test
    void intermediateLayers_matchAcrossWrappers() {
        NNsight first = NNsight.wrap(shared);
        NNsight second = NNsight.wrap(shared);

        List<Tensor> a = first.trace(input, tr -> List.of(first.get("layer1").output(), first.get("layer2").output()));
        List<Tensor> b = second.trace(input, tr -> List.of(second.get("layer1").output(), second.get("layer2").output()));

        assertTrue(same(a.get(0), b.get(0)));
        assertTrue(same(a.get(1), b.get(1)));
    }

    @Test
    void traceOfAnotherWrapper_insideABody_runsItsOwnForward() {
        NNsight outer = NNsight.wrap(shared);
        NNsight inner = NNsight.wrap(shared);

        List<Tensor> results = outer.trace(input, tr -> {
            Tensor first = outer.get("layer1").output();
            Tensor nested = inner.trace(input, tr2 -> {
                inner.get("layer1").output().zero_();
                return inner.get("layer2").output();
            });
            return List.of(NNsight.save(nested), outer.get("layer2").output(), first);
        });

        Tensor zeroed = ((Linear) shared.namedChildren().get("layer2")).forward(torch.zeros(1, 10));
        assertTrue(same(zeroed, results.get(0)));
        assertTrue(same(expected, results.get(1)));
    }

    @Test
    void wrappersOnDifferentThreads_traceConcurrently() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                NNsight wrapper = NNsight.wrap(shared);
                results.add(pool.submit(() -> {
                    for (int i = 0; i < 100; i++) {
                        Tensor x = torch.rand(1, 5);
                        if (!same(shared.forward(x), output(wrapper, x))) {
                            return false;
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> result : results) {
                assertTrue(result.get(60, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void oneWrapperOnSeveralThreads_tracesOneAtATime() throws Exception {
        NNsight wrapper = NNsight.wrap(shared);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                results.add(pool.submit(() -> {
                    int correct = 0;
                    for (int i = 0; i < 50; i++) {
                        Tensor x = torch.rand(1, 5);
                        correct += same(shared.forward(x), output(wrapper, x)) ? 1 : 0;
                    }
                    return correct;
                }));
            }
            for (Future<Integer> result : results) {
                assertEquals(50, result.get(60, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
