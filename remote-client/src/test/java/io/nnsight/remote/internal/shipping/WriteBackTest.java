package io.nnsight.remote.internal.shipping;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Envoy;
import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.remote.Remote;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a body does to the values it captured comes back into the caller's own objects ({@link WriteBack}),
 * through the whole local simulation: {@code seen.add(NNsight.save(...))} works remotely as it does locally.
 */
class WriteBackTest {
    private static final String PROMPT = Shared.STORIES_PROMPT;

    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    private static Tensor lastLogits() {
        return lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
    }

    private static void assertClose(Tensor expected, Tensor actual) {
        assertTrue(torch.allclose(expected, actual, 0, 1e-5, false));
    }

    /** An application object a body captures and fills. */
    static final class Probe {
        Tensor logits;
        int calls;
        final List<String> notes = new ArrayList<>();
        private String label = "before";

        void record(Tensor value) {
            logits = value;
            calls++;
            notes.add("recorded " + value.dim() + "-d");
            label = "after";
        }

        String label() {
            return label;
        }
    }

    @Test
    void savedTensor_addedToACapturedList_fillsTheCallersList() {
        List<Tensor> seen = new ArrayList<>();
        Object result = lm.on(Remote.local()).trace(PROMPT, tr -> {
            seen.add(NNsight.save(lm.get("lm_head").output().select(1, -1)));
            return null;
        });

        assertNull(result);
        assertEquals(1, seen.size());
        assertClose(lastLogits(), seen.get(0));
    }

    @Test
    void capturedList_withElements_isReplacedByWhatTheBodyLeft() {
        List<String> log = new ArrayList<>(List.of("kept", "dropped"));
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            log.remove("dropped");
            log.add("layers=" + lm.layerCount());
            return null;
        });

        assertEquals(List.of("kept", "layers=5"), log);
    }

    @Test
    void capturedMap_andSet_getTheBodysEntries() {
        Map<String, Tensor> byLayer = new LinkedHashMap<>();
        Set<Long> argmax = new HashSet<>();
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            for (Envoy layer : lm.get("model.layers")) {
                byLayer.put(layer.path(), NNsight.save(layer.output().select(1, -1)));
            }
            argmax.add(lm.get("lm_head").output().select(1, -1).argmax().item_long());
            return null;
        });

        assertEquals(List.of("model.layers.0", "model.layers.1", "model.layers.2", "model.layers.3", "model.layers.4"),
                new ArrayList<>(byLayer.keySet()));
        Tensor local = lm.trace(PROMPT, tr -> lm.get("model.layers.3").output().select(1, -1));
        assertClose(local, byLayer.get("model.layers.3"));
        assertEquals(Set.of(lastLogits().argmax().item_long()), argmax);
    }

    @Test
    void capturedArrays_getTheBodysElements() {
        Tensor[] slot = new Tensor[1];
        long[] counts = new long[3];
        double[][] grid = {{0, 0}, {0, 0}};
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            Tensor logits = lm.get("lm_head").output();
            slot[0] = NNsight.save(logits.select(1, -1));
            counts[0] = logits.size(0);
            counts[2] = logits.size(2);
            grid[1][0] = 2.5;
            return null;
        });

        assertNotNull(slot[0]);
        assertClose(lastLogits(), slot[0]);
        assertArrayEquals(new long[] {1, 0, 512}, counts);
        assertEquals(2.5, grid[1][0]);
    }

    @Test
    void capturedAtomics_getTheBodysValues() {
        AtomicReference<Tensor> holder = new AtomicReference<>();
        AtomicInteger steps = new AtomicInteger(7);
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            holder.set(NNsight.save(lm.get("lm_head").output().select(1, -1)));
            steps.addAndGet(lm.layerCount());
            return null;
        });

        assertNotNull(holder.get());
        assertClose(lastLogits(), holder.get());
        assertEquals(12, steps.get());
    }

    @Test
    void capturedApplicationObject_getsTheBodysFieldValues_andKeepsItsIdentity() {
        Probe probe = new Probe();
        List<String> notes = probe.notes;
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            probe.record(NNsight.save(lm.get("lm_head").output().select(1, -1)));
            return null;
        });

        assertEquals(1, probe.calls);
        assertEquals("after", probe.label());
        assertClose(lastLogits(), probe.logits);
        assertEquals(List.of("recorded 2-d"), probe.notes);
        assertSame(notes, probe.notes, "a final field keeps the caller's list, filled");
    }

    /** A record: its components cannot be set, but the collections they hold take the body's contents. */
    record Harvest(List<Tensor> outputs, Map<String, Long> tokens) {}

    /** An object whose fields hold another object of the application, an immutable list and an array. */
    static final class Report {
        final Probe probe = new Probe();
        List<String> tags = List.of("initial");
        long[] shape = new long[2];
        Report self = this;
    }

    @Test
    void capturedRecord_ofMutableCollections_getsTheirContents() {
        Harvest harvest = new Harvest(new ArrayList<>(), new LinkedHashMap<>());
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            harvest.outputs().add(NNsight.save(lm.get("lm_head").output().select(1, -1)));
            harvest.tokens().put("argmax", lm.get("lm_head").output().select(1, -1).argmax().item_long());
            return null;
        });

        assertEquals(1, harvest.outputs().size());
        assertClose(lastLogits(), harvest.outputs().get(0));
        assertEquals(lastLogits().argmax().item_long(), harvest.tokens().get("argmax"));
    }

    @Test
    void nestedApplicationObjects_keepTheirIdentity_andOtherFieldsTakeTheBodysValues() {
        Report report = new Report();
        Probe probe = report.probe;
        long[] shape = report.shape;
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            Tensor logits = lm.get("lm_head").output();
            report.probe.record(NNsight.save(logits.select(1, -1)));
            report.tags = List.of("traced", "twice");
            report.shape[0] = logits.size(1);
            report.shape[1] = logits.size(2);
            return null;
        });

        assertSame(probe, report.probe);
        assertEquals(1, probe.calls);
        assertClose(lastLogits(), probe.logits);
        assertEquals(List.of("traced", "twice"), report.tags);
        assertSame(shape, report.shape);
        assertEquals(512, shape[1]);
        assertSame(report, report.self);
    }

    @Test
    void listCapturedBySession_isFilledByItsTraces() {
        // values, not tensors: a session frees the tensors its traces saved unless it returns them (locally too)
        List<Long> argmax = new ArrayList<>();
        Tensor result = lm.on(Remote.local()).session(() -> {
            lm.trace(PROMPT, tr -> {
                argmax.add(lm.get("lm_head").output().select(1, -1).argmax().item_long());
                return null;
            });
            return lm.trace(PROMPT, tr -> {
                argmax.add(lm.get("model.layers.0").output().select(1, -1).argmax().item_long());
                return lm.get("lm_head").output().select(1, -1);
            });
        });

        assertEquals(List.of(lastLogits().argmax().item_long(),
                lm.trace(PROMPT, tr -> lm.get("model.layers.0").output().select(1, -1).argmax().item_long())), argmax);
        assertClose(lastLogits(), result);
    }

    @Test
    void submittedLocalJob_isCompleted_andFillsTheCallersList() {
        List<Tensor> seen = new ArrayList<>();
        io.nnsight.TraceBody<Long> body = tr -> {
            seen.add(NNsight.save(lm.get("lm_head").output().select(1, -1)));
            return lm.get("lm_head").output().size(1);
        };

        io.nnsight.remote.RemoteJob<Long> job = Remote.local().submit(new TraceJob<>(lm, PROMPT, body));

        assertEquals(io.nnsight.remote.RemoteJob.State.COMPLETED, job.state());
        assertEquals(job.await(), job.poll().orElseThrow());
        assertEquals(lm.tokenizer().encode(PROMPT).length, job.await().longValue());
        assertEquals(1, seen.size());
        assertClose(lastLogits(), seen.get(0));
    }

    @Test
    void sameListCapturedTwice_staysOneList() {
        List<Long> ids = new ArrayList<>();
        List<Long> alias = ids;
        lm.on(Remote.local()).trace(PROMPT, tr -> {
            ids.add(1L);
            alias.add(2L);
            return null;
        });

        assertEquals(List.of(1L, 2L), ids);
    }

    @Test
    void resultAndCapturedList_sharingATensor_bothGetIt() {
        List<Tensor> seen = new ArrayList<>();
        Tensor result = lm.on(Remote.local()).trace(PROMPT, tr -> {
            Tensor logits = NNsight.save(lm.get("lm_head").output().select(1, -1));
            seen.add(logits);
            return logits;
        });

        assertSame(result, seen.get(0));
    }

    @Test
    void immutableCapturedList_isLeftAlone() {
        List<String> fixed = List.of("a", "b");
        int size = lm.on(Remote.local()).trace(PROMPT, tr -> fixed.size() + lm.layerCount());

        assertEquals(7, size);
        assertEquals(List.of("a", "b"), fixed);
    }
}
