package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import io.nnsight.nn.Mlp;
import io.nnsight.nn.TensorModule;
import io.nnsight.spi.NativeHookPoints;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The Envoy tree: paths, lookup, iteration, printing, and modules a trace cannot see. */
class EnvoyTreeTest {
    private final Mlp mlp = Models.mlp();
    private final NNsight model = NNsight.wrap(mlp);

    @Test
    void get_walksDottedPaths_withListIndicesAsSegments() {
        Envoy linear = model.get("layers.3.0");

        assertEquals("layers.3.0", linear.path());
        assertEquals("0", linear.name());
        assertSame(mlp.layers().get(3).namedChildren().get("0"), linear.module());
        assertSame(linear, model.get("layers").get("3").get("0"));
        assertSame(model, model.get(""));
    }

    @Test
    void iteration_visitsChildrenInOrder() {
        List<String> names = new ArrayList<>();
        for (Envoy layer : model.get("layers")) {
            names.add(layer.name());
        }

        assertEquals(12, names.size());
        assertEquals("0", names.get(0));
        assertEquals("11", names.get(11));
        assertEquals(List.of("layers", "head"), model.children().stream().map(Envoy::name).toList());
    }

    @Test
    void get_missingIndex_saysWhatExists() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> model.get("layers.12"));

        assertTrue(error.getMessage().contains("'layers' has no child '12'"), error.getMessage());
        assertTrue(error.getMessage().contains("0, 1, 2"), error.getMessage());
        assertTrue(error.getMessage().contains("Close matches: layers.1"), error.getMessage());
    }

    @Test
    void get_misspelledName_suggestsTheRightOne() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> model.get("haed"));

        assertTrue(error.getMessage().contains("Close matches: head"), error.getMessage());
    }

    @Test
    void toString_printsTheTreeLikePyTorch() {
        String printed = NNsight.wrap(Models.tiny()).toString();

        assertEquals(String.join("\n",
                "Sequential(",
                "  (layer1): Linear(in_features=5, out_features=10, bias=true)",
                "  (layer2): Linear(in_features=10, out_features=2, bias=true)",
                ")",
                ""), printed);
        String mlpTree = model.toString();
        assertTrue(mlpTree.startsWith("Mlp(\n  (layers): ModuleList(\n    (0): Sequential(\n"
                + "      (0): Linear(in_features=64, out_features=64, bias=true)\n      (1): ReLU()\n"), mlpTree);
        assertTrue(mlpTree.endsWith("  (head): Linear(in_features=64, out_features=10, bias=true)\n)\n"), mlpTree);
    }

    /** A module whose child is a native libtorch module, which traces cannot see without the agent. */
    static final class WithNativeChild extends HookedModule implements TensorModule {
        final LinearImpl fc = register("fc", new LinearImpl(4, 4));

        @Override
        public Tensor forward(Tensor x) {
            return hooked(x, fc::forward);
        }
    }

    @Test
    void nativeModule_isReadableUnderTheAgent_elseFailsWithAHint() {
        WithNativeChild module = new WithNativeChild();
        NNsight wrapped = NNsight.wrap(module);
        Tensor x = torch.rand(1, 4);

        assertTrue(wrapped.toString().contains("(fc): LinearImpl()"), wrapped.toString());
        if (NativeHookPoints.callSitesEnabled()) {
            Tensor fc = wrapped.trace(x, tr -> wrapped.get("fc").output());
            assertTrue(Models.same(module.fc.forward(x), fc));
        } else {
            TraceException error = assertThrows(TraceException.class, () -> wrapped.trace(x, tr -> wrapped.get("fc").output()));
            assertTrue(error.getMessage().contains("agent"), error.getMessage());
        }
        Tensor rootOutput = wrapped.trace(x, tr -> wrapped.output());
        assertEquals(4, rootOutput.size(1));
    }

    /** A module registered twice, under two names: both paths address its calls. */
    static final class Shared extends HookedModule implements TensorModule {
        final Linear layer = register("first", new Linear(3, 3));

        Shared() {
            register("second", layer);
        }

        @Override
        public Tensor forward(Tensor x) {
            return hooked(x, in -> layer.forward(layer.forward(in)));
        }
    }

    @Test
    void sharedModule_isTheSameUnderBothPaths() {
        Shared shared = new Shared();
        NNsight wrapped = NNsight.wrap(shared);
        Tensor x = torch.rand(1, 3);

        List<Tensor> outputs = wrapped.trace(x, tr -> {
            Tensor first = wrapped.get("first").output();
            tr.next();
            return List.of(first, wrapped.get("second").output());
        });

        assertTrue(Models.same(shared.layer.forward(x), outputs.get(0)));
        assertTrue(Models.same(shared.forward(x), outputs.get(1)));
    }

    @Test
    void call_runsTheModuleDirectly_andInvisiblyToTheTrace() {
        Tensor x = torch.rand(1, 64);
        Tensor h = mlp.layers().get(5).forward(torch.rand(1, 64));

        List<Tensor> results = model.trace(x, tr -> {
            Tensor hidden = model.get("layers.5").output();
            Tensor lens = model.get("head").call(hidden);
            return List.of(lens, model.get("head").output());
        });

        assertTrue(Models.same(mlp.head().forward(mlp.layers().get(5).forward(
                runUpTo(x, 5))), results.get(0)));
        assertTrue(Models.same(mlp.forward(x), results.get(1)), "the direct call was served as the head's output");
        assertTrue(Models.same(mlp.head().forward(h), model.get("head").call(h)));
    }

    private Tensor runUpTo(Tensor x, int layer) {
        Tensor h = x;
        for (int i = 0; i < layer; i++) {
            h = mlp.layers().get(i).forward(h);
        }
        return h;
    }
}
