package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.Cache;
import io.nnsight.Invoke;
import io.nnsight.Tensors;
import io.nnsight.internal.engine.ThreadEngine;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code tr.cache()} on stories260K, against nnsight 0.6.3's {@code tracer.cache()}: the l2 norm of every module's
 * output ({@code shared/models/stories260K/reference-extras.json}, {@code cache_output_l2}) within 1e-3 relative.
 */
class CacheTest {
    private static LanguageModel lm;
    private static JsonObject extras;
    private static String prompt;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        extras = Shared.reference("models/stories260K/reference-extras.json");
        prompt = extras.get("prompt").getAsString();
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    /** The l2 norm of a module's output; of its first tensor when it has several, as the reference took it. */
    private static double l2(Object output) {
        return output instanceof Tensor tensor ? tensor.norm().item_double() : l2(((List<?>) output).get(0));
    }

    @Test
    void everyModulesOutput_matchesNnsightsCache() {
        Cache cache = lm.trace(prompt, tr -> tr.cache());

        JsonObject expected = extras.getAsJsonObject("cache_output_l2");
        for (Map.Entry<String, com.google.gson.JsonElement> module : expected.entrySet()) {
            double reference = module.getValue().getAsDouble();
            List<Cache.Call> calls = cache.calls(module.getKey());
            assertEquals(1, calls.size(), module.getKey());
            assertEquals(reference, l2(calls.get(0).output()), 1e-3 * reference, module.getKey());
        }
        assertTrue(cache.modules().keySet().containsAll(expected.keySet()));
        assertNull(cache.calls("lm_head").get(0).inputs(), "outputs only unless asked");
    }

    @Test
    void cachedValues_areDetachedCopies_unchangedByLaterEdits() {
        Cache cache = lm.trace(prompt, tr -> {
            Cache recording = tr.cache("model.layers.1");
            Tensor hidden = lm.get("model.layers.1").output();
            lm.get("model.layers.2").output(); // layer 1's call has ended: the cache copied its output
            hidden.mul_(new Scalar(0.0)); // a later edit of the live tensor
            return recording;
        });

        Tensor plain = lm.trace(prompt, tr -> lm.get("model.layers.1").output());
        assertTrue(torch.equal(plain, cache.output("model.layers.1")));
        assertFalse(cache.output("model.layers.1").requires_grad());
    }

    @Test
    void someModules_withInputs() {
        Cache cache = lm.trace(prompt, tr -> tr.cache(Cache.Include.BOTH, "model.layers.0", "model.norm"));

        assertEquals(List.of("model.layers.0", "model.norm"), List.copyOf(cache.modules().keySet()));
        Tensor embedded = lm.trace(prompt, tr -> lm.get("model.embed_tokens").output());
        assertTrue(torch.equal(embedded, (Tensor) cache.inputs("model.layers.0").first()));
        assertEquals(List.of(1L, 22L, 64L), List.of(Tensors.shape(cache.output("model.norm"))[0],
                Tensors.shape(cache.output("model.norm"))[1], Tensors.shape(cache.output("model.norm"))[2]));
    }

    @Test
    void eachInvoke_cachesItsOwnRows() {
        List<Invoke<Cache>> caches = lm.trace(tr -> List.of(
                tr.invoke(prompt, () -> tr.cache("lm_head")),
                tr.invoke("Once upon a time", () -> tr.cache("lm_head"))));

        Tensor alone = lm.trace(prompt, tr -> lm.get("lm_head").output());
        Tensor first = caches.get(0).get().output("lm_head");
        assertEquals(1, first.size(0));
        assertTrue(torch.allclose(alone, first, 1e-4, 1e-4, false), "the longer prompt is not padded");
        assertEquals(1, caches.get(1).get().output("lm_head").size(0));
    }

    @Test
    void duringGeneration_oneCallPerStep() {
        Cache cache = lm.generate(prompt, Generation.maxNewTokens(4), tr -> tr.cache("lm_head"));

        List<Cache.Call> steps = cache.calls("lm_head");
        assertEquals(4, steps.size());
        assertEquals(22, ((Tensor) steps.get(0).output()).size(1), "step 0 runs the prompt");
        assertEquals(1, ((Tensor) steps.get(1).output()).size(1), "later steps one token");
    }

    @Test
    void cacheNotKept_isFreedWithTheTrace() {
        AtomicReference<Cache> notReturned = new AtomicReference<>();

        lm.trace(prompt, tr -> {
            notReturned.set(tr.cache("lm_head"));
            return null;
        });

        assertTrue(notReturned.get().output("lm_head").isNull(), "the trace freed what it did not return or save");
    }

    @Test
    void unknownPath_namesTheCloseMatches() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(prompt, tr -> tr.cache("model.layer.0")));

        assertEquals("tr.cache(...): No module at 'model.layer.0': 'model' has no child 'layer'; its children are "
                + "embed_tokens, layers, norm, rotary_emb. Close matches: model.layers.0, model.layers, model.layers.1",
                error.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(prompt, tr -> tr.cache("lm_head")).calls("model.norm"));
        assertEquals("the cache holds no module at 'model.norm'; it holds lm_head", missing.getMessage());
    }
}
