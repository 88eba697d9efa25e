package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.nn.Linear;
import io.nnsight.nn.Sequential;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * nnsight's {@code test_memory_cleanup.py}, for native memory: each trace frees what it made and did not
 * return or save; wrappers, tracers and models are garbage collected.
 */
class MemoryTest extends TinyModelFixture {
    @Test
    void valuesNotReturnedOrSaved_areFreedWhenTheTraceEnds() {
        AtomicReference<Tensor> leaked = new AtomicReference<>();

        model.trace(input, tr -> {
            leaked.set(model.get("layer1").output());
            return model.get("layer2").output();
        });

        assertTrue(leaked.get().isNull(), "an unsaved intermediate survived the trace");
        NullPointerException error = assertThrows(NullPointerException.class, () -> leaked.get().sum());
        assertTrue(error.getMessage().contains("NULL"), error.getMessage());
    }

    @Test
    void returnedValues_survive() {
        List<Tensor> outputs = model.trace(input, tr -> List.of(model.get("layer1").output().clone(),
                model.get("layer2").output()));

        assertFalse(outputs.get(0).isNull());
        assertTrue(same(net.forward(input), outputs.get(1)));
    }

    @Test
    void savedValues_survive() {
        List<Tensor> seen = new ArrayList<>();

        model.trace(input, tr -> {
            seen.add(NNsight.save(model.get("layer1").output()));
            Tensor unsaved = model.get("layer2").output();
            seen.add(unsaved);
            return null;
        });

        assertFalse(seen.get(0).isNull());
        assertTrue(same(((Linear) model.get("layer1").module()).forward(input), seen.get(0)));
        assertTrue(seen.get(1).isNull());
    }

    @Test
    void save_outsideATrace_fails() {
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> NNsight.save(input));

        assertTrue(error.getMessage().contains("inside a trace"), error.getMessage());
    }

    @Test
    void savedValuesInACollection_survive() {
        List<List<Tensor>> holder = new ArrayList<>();

        model.trace(input, tr -> {
            holder.add(NNsight.save(List.of(model.get("layer1").output(), model.get("layer2").output())));
            return null;
        });

        assertFalse(holder.get(0).get(0).isNull());
        assertFalse(holder.get(0).get(1).isNull());
    }

    @Test
    void manyTraces_keepNativeMemoryFlat() {
        for (int i = 0; i < 10; i++) {
            model.trace(input, tr -> model.get("layer2").output().sum().item_float());
        }
        long before = Pointer.totalCount();

        for (int i = 0; i < 1000; i++) {
            model.trace(input, tr -> {
                model.get("layer1").output().mul_(new org.bytedeco.pytorch.Scalar(1.5));
                return model.get("layer2").output().sum().item_float();
            });
        }

        long after = Pointer.totalCount();
        assertFalse(after > before, "native objects grew from " + before + " to " + after + " over 1000 traces");
    }

    @Test
    void keptValues_belongToTheCallersScope() {
        Tensor kept;
        try (PointerScope scope = new PointerScope()) {
            kept = model.trace(input, tr -> model.get("layer2").output());
            assertFalse(kept.isNull());
        }

        assertTrue(kept.isNull(), "the caller's scope did not free the trace's result");
    }

    @Test
    void modelBuiltInsideAScope_outlivesIt() {
        Sequential built;
        try (PointerScope scope = new PointerScope()) {
            built = new Sequential().add("layer", new Linear(5, 2));
        }
        NNsight wrapped = NNsight.wrap(built);

        Tensor output = wrapped.trace(input, tr -> wrapped.get("layer").output());

        assertEquals(2, output.size(1));
    }

    @Test
    void modelAndWrapper_areCollected_afterUse() {
        WeakReference<Sequential> modelRef = traceOnce();

        assertTrue(collected(modelRef::get), "the model was not garbage collected");
    }

    private WeakReference<Sequential> traceOnce() {
        Sequential local = new Sequential().add("layer1", new Linear(5, 10)).add("layer2", new Linear(10, 2));
        NNsight wrapper = NNsight.wrap(local);
        wrapper.trace(input, tr -> wrapper.get("layer2").output());
        return new WeakReference<>(local);
    }

    @Test
    void unreachableWrapper_isCollected_andItsHooksRemoved() {
        Linear layer2 = (Linear) model.get("layer2").module();
        int hooksBefore = layer2.hookPoint().hookCount();
        WeakReference<NNsight> wrapperRef = wrapAndTrace(net);
        assertEquals(hooksBefore + 1, layer2.hookPoint().hookCount());

        assertTrue(collected(wrapperRef::get), "the wrapper was not garbage collected");
        assertTrue(waitFor(() -> layer2.hookPoint().hookCount() == hooksBefore), "its hooks were not removed");
    }

    private WeakReference<NNsight> wrapAndTrace(Sequential target) {
        NNsight wrapper = NNsight.wrap(target);
        wrapper.trace(input, tr -> wrapper.get("layer2").output());
        return new WeakReference<>(wrapper);
    }

    @Test
    void tracer_isNotRetained_afterTheTrace() {
        List<WeakReference<Tracer>> tracers = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            model.trace(input, tr -> {
                tracers.add(new WeakReference<>(tr));
                return model.get("layer2").output();
            });
        }
        model.trace(input, tr -> {
            tracers.add(new WeakReference<>(tr));
            tr.stop();
            return null;
        });

        for (WeakReference<Tracer> tracer : tracers) {
            assertTrue(collected(tracer::get), "a tracer was retained");
        }
    }

    @Test
    void largeIntermediates_areFreed_whenNotKept() {
        Sequential large = new Sequential()
                .add("layer1", new Linear(5, 1000))
                .add("layer2", new Linear(1000, 1000))
                .add("layer3", new Linear(1000, 2));
        NNsight wrapped = NNsight.wrap(large);
        AtomicReference<Tensor> intermediate = new AtomicReference<>();

        wrapped.trace(input, tr -> {
            intermediate.set(wrapped.get("layer2").output());
            return null;
        });

        assertTrue(intermediate.get().isNull());
    }

    private static boolean collected(java.util.function.Supplier<?> reference) {
        return waitFor(() -> reference.get() == null);
    }

    private static boolean waitFor(BooleanSupplier condition) {
        for (int i = 0; i < 50; i++) {
            if (condition.getAsBoolean()) {
                return true;
            }
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return condition.getAsBoolean();
    }
}
