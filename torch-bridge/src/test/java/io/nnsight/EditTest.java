package io.nnsight;

import static io.nnsight.Models.assertNoBodyThreads;
import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.Mlp;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Persistent edits ({@code model.edit}): interventions that every trace of a wrapper runs first. */
class EditTest {
    private final Mlp mlp = Models.mlp();
    private final NNsight model = NNsight.wrap(mlp);
    private final Tensor x = torch.randn(1, 64);

    @AfterEach
    void noBodyLeft() {
        assertNoBodyThreads();
    }

    /** The MLP applied by hand, with the output of block {@code zeroed} replaced by zeros. */
    private Tensor forwardWithZeroed(Tensor input, int zeroed) {
        Tensor h = input;
        for (int i = 0; i < 12; i++) {
            h = i == zeroed ? torch.zeros(input.size(0), 64) : mlp.layers().get(i).forward(h);
        }
        return mlp.head().forward(h);
    }

    private Tensor head(NNsight wrapper, Tensor input) {
        return wrapper.trace(input, tr -> wrapper.get("head").output());
    }

    @Test
    void edit_zeroingAnOutput_changesTheCopy_butNotTheOriginal() {
        NNsight edited = model.edit(tr -> model.get("layers.6").output().zero_());

        assertTrue(same(forwardWithZeroed(x, 6), head(edited, x)));
        assertTrue(same(mlp.forward(x), head(model, x)));
        assertFalse(same(head(model, x), head(edited, x)));
        assertEquals(1, edited.edits().size());
        assertTrue(model.edits().isEmpty());
    }

    @Test
    void edit_givesACopyOfTheSameClass_sharingTheEnvoyTree() {
        NNsight edited = model.edit(tr -> model.get("layers.6").output().zero_());

        assertSame(model.getClass(), edited.getClass());
        assertSame(model.get("layers.6"), edited.get("layers.6"));
        assertSame(model, edited.root());
        assertSame(mlp, edited.module());
    }

    @Test
    void envoysOfEitherWrapper_workInTheTracesOfTheOther() {
        NNsight edited = model.edit(tr -> zeroLayer6(tr));

        Tensor viaOriginalEnvoy = edited.trace(x, tr -> model.get("layers.6").output());
        Tensor viaCopysEnvoy = model.trace(x, tr -> edited.get("layers.6").output());

        assertEquals(0, viaOriginalEnvoy.abs().sum().item_double());
        assertTrue(viaCopysEnvoy.abs().sum().item_double() > 0);
    }

    private Object zeroLayer6(Tracer tr) {
        model.get("layers.6").setOutput(torch.zeros(1, 64));
        return null;
    }

    @Test
    void editInPlace_changesTheModelsTraces_andClearEditsRestoresThem() {
        model.editInPlace(tr -> model.get("layers.6").output().zero_());

        assertTrue(same(forwardWithZeroed(x, 6), head(model, x)));

        model.clearEdits();

        assertTrue(model.edits().isEmpty());
        assertTrue(same(mlp.forward(x), head(model, x)));
    }

    @Test
    void clearEdits_onOneWrapper_leavesTheEditsOfTheOthers() {
        model.editInPlace(tr -> model.get("layers.6").output().zero_());
        NNsight copy = model.edit(tr -> model.get("layers.2").output().zero_());

        model.clearEdits();

        assertEquals(2, copy.edits().size());
        assertTrue(same(mlp.forward(x), head(model, x)));
        Tensor h = x;
        for (int i = 0; i < 12; i++) {
            h = i == 2 || i == 6 ? torch.zeros(1, 64) : mlp.layers().get(i).forward(h);
        }
        assertTrue(same(mlp.head().forward(h), head(copy, x)));

        copy.clearEdits();

        assertTrue(same(mlp.forward(x), head(copy, x)));
    }

    @Test
    void edit_runsBeforeTheTracesInvokes_whichSeeTheEditedValue() {
        NNsight edited = model.edit(tr -> model.get("layers.6").output().zero_());

        Tensor seen = edited.trace(x, tr -> model.get("layers.6").output());

        assertEquals(0, seen.abs().sum().item_double());
    }

    @Test
    void severalEdits_runInTheOrderTheyWereMade() {
        NNsight edited = model
                .edit(tr -> model.get("layers.6").output().mul_(new Scalar(2.0)))
                .edit(tr -> model.get("layers.6").output().add_(new Scalar(1.0)));

        Tensor seen = edited.trace(x, tr -> model.get("layers.6").output());

        Tensor h = x;
        for (int i = 0; i <= 6; i++) {
            h = mlp.layers().get(i).forward(h);
        }
        assertTrue(same(h.mul(new Scalar(2.0)).add(new Scalar(1.0)), seen));
    }

    @Test
    void chainedEdit_leavesTheFirstCopyAsItWas() {
        NNsight first = model.edit(tr -> model.get("layers.6").output().zero_());
        NNsight second = first.edit(tr -> model.get("layers.2").output().zero_());

        assertEquals(1, first.edits().size());
        assertEquals(2, second.edits().size());
        assertTrue(same(forwardWithZeroed(x, 6), head(first, x)));
    }

    @Test
    void edit_onATraceOfSeveralInvokes_changesEveryRow() {
        NNsight edited = model.edit(tr -> model.get("layers.6").output().zero_());
        Tensor a = torch.randn(2, 64);
        Tensor b = torch.randn(3, 64);

        List<Invoke<Tensor>> heads = edited.trace(tr -> List.of(
                tr.invoke(a, () -> model.get("head").output()),
                tr.invoke(b, () -> model.get("head").output())));

        assertTrue(same(forwardWithZeroed(a, 6), heads.get(0).get()));
        assertTrue(same(forwardWithZeroed(b, 6), heads.get(1).get()));
    }

    @Test
    void edit_thatSkipsAModule_skipsItForTheWholeBatch() {
        NNsight edited = model.edit(tr -> {
            model.get("layers.6").skip(torch.zeros(3, 64));
            return null;
        });
        Tensor batch = torch.randn(3, 64);

        assertTrue(same(forwardWithZeroed(batch, 6), head(edited, batch)));
    }

    @Test
    void edit_thatThrows_reachesTheCaller_andTheWrappersStayUsable() {
        NNsight edited = model.edit(tr -> {
            model.get("layers.6").output();
            throw new IllegalStateException("edit failed");
        });

        IllegalStateException error = assertThrows(IllegalStateException.class, () -> head(edited, x));

        assertEquals("edit failed", error.getMessage());
        assertTrue(error.getStackTrace()[0].getClassName().startsWith(EditTest.class.getName()),
                error.getStackTrace()[0].toString());
        assertTrue(same(mlp.forward(x), head(model, x)));
        edited.clearEdits();
        assertTrue(same(mlp.forward(x), head(edited, x)));
    }

    @Test
    void invokeInsideAnEdit_isRefused() {
        NNsight edited = model.edit(tr -> tr.invoke(x, () -> model.get("head").output()));

        TraceException error = assertThrows(TraceException.class, () -> head(edited, x));

        assertTrue(error.getMessage().startsWith("tr.invoke(...) inside an edit"), error.getMessage());
    }

    @Test
    void edit_overRepeatedCalls_appliesAtEachIteration() {
        Models.Repeated repeated = new Models.Repeated();
        NNsight wrapped = NNsight.wrap(repeated);
        NNsight edited = wrapped.edit(tr -> {
            for (int call : tr.all()) {
                wrapped.get("layer").output().zero_();
            }
            return null;
        });
        Tensor input = torch.randn(2, 4);

        List<Tensor> seen = edited.trace(input, tr -> {
            List<Tensor> outputs = new ArrayList<>();
            for (int call : tr.iter(Steps.range(0, 3))) {
                outputs.add(wrapped.get("layer").output());
            }
            return outputs;
        });

        for (Tensor output : seen) {
            assertEquals(0, output.abs().sum().item_double());
        }
        assertTrue(same(repeated.head.forward(torch.zeros(2, 4)), head(edited, input)));
    }

    @Test
    void tracesOfTheEditedCopy_inASession_applyTheEdits() {
        NNsight edited = model.edit(tr -> model.get("layers.6").output().zero_());

        List<Tensor> heads = model.session(() -> List.of(head(model, x), head(edited, x)));

        assertTrue(same(mlp.forward(x), heads.get(0)));
        assertTrue(same(forwardWithZeroed(x, 6), heads.get(1)));
    }
}
