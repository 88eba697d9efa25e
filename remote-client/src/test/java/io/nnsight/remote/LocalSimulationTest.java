package io.nnsight.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Envoy;
import io.nnsight.Inputs;
import io.nnsight.Cache;
import io.nnsight.Invoke;
import io.nnsight.TraceBody;
import io.nnsight.Tensors;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Remote#local()} against a plain local trace on stories260K: the same numbers through the whole
 * remote path (shipping, the sandbox, the job's class loader, the result graph), and the code that works
 * locally but would fail on a server refused before anything is sent.
 */
class LocalSimulationTest {
    private static final String PROMPT = Shared.STORIES_PROMPT;
    private static final String OTHER = "Lily and Tom";
    private static final double TOLERANCE = 1e-5;

    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    private static void assertClose(Tensor expected, Tensor actual) {
        assertArrayEquals(expected.sizes().vec().get(), actual.sizes().vec().get(), "shape");
        assertTrue(torch.allclose(expected, actual, 0, TOLERANCE, false),
                "max difference " + expected.sub(actual).abs().max().item_double());
    }

    @Test
    void lastLogits_matchALocalTrace() {
        Tensor local = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

        assertClose(local, simulated);
    }

    @Test
    void gradients_inABackwardPass_matchALocalTrace() {
        TraceBody<Tensor> attribution = tr -> {
            Tensor hidden = lm.get("model.layers.2").output();
            Tensor logits = lm.get("lm_head").output();
            Tensor metric = logits.select(1, -1).select(1, 3).sum();
            return tr.backward(metric, () -> lm.get("model.layers.2").grad().mul(hidden).sum(-1));
        };

        assertClose(lm.trace(PROMPT, attribution), lm.on(Remote.local()).trace(PROMPT, attribution));
    }

    @Test
    void cache_travelsBack() {
        Cache local = lm.trace(PROMPT, tr -> tr.cache("model.layers.1", "lm_head"));
        Cache simulated = lm.on(Remote.local()).trace(PROMPT, tr -> tr.cache("model.layers.1", "lm_head"));

        assertEquals(local.modules().keySet(), simulated.modules().keySet());
        assertClose(local.output("lm_head"), simulated.output("lm_head"));
        assertClose(local.output("model.layers.1"), simulated.output("model.layers.1"));
    }

    @Test
    void layerOutputs_savedIntoAList_matchALocalTrace() {
        List<Tensor> local = lm.trace(PROMPT, tr -> {
            List<Tensor> outputs = new ArrayList<>();
            for (Envoy layer : lm.get("model.layers")) {
                outputs.add(layer.output());
            }
            return outputs;
        });
        List<Tensor> simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            List<Tensor> outputs = new ArrayList<>();
            for (Envoy layer : lm.get("model.layers")) {
                outputs.add(layer.output());
            }
            return outputs;
        });

        assertEquals(lm.layerCount(), simulated.size());
        for (int i = 0; i < local.size(); i++) {
            assertClose(local.get(i), simulated.get(i));
        }
    }

    @Test
    void zeroingAnMlp_thenReadingLogits_matchesALocalTrace() {
        Tensor plain = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
        Tensor local = lm.trace(PROMPT, tr -> {
            lm.get("model.layers.4.mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1);
        });
        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            lm.get("model.layers.4.mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1);
        });

        assertClose(local, simulated);
        assertFalse(torch.allclose(plain, simulated, 0, 1e-3, false), "the intervention changed the logits");
        assertClose(plain, lm.on(Remote.local()).trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1)));
    }

    @Test
    void twoInvokes_batched_matchALocalTrace() {
        List<Invoke<Tensor>> local = lm.trace(tr -> List.of(
                tr.invoke(PROMPT, () -> lm.get("lm_head").output().select(1, -1)),
                tr.invoke(OTHER, () -> lm.get("lm_head").output().select(1, -1))));
        List<Invoke<Tensor>> simulated = lm.on(Remote.local()).trace(tr -> List.of(
                tr.invoke(PROMPT, () -> lm.get("lm_head").output().select(1, -1)),
                tr.invoke(OTHER, () -> lm.get("lm_head").output().select(1, -1))));

        assertEquals(2, simulated.size());
        assertClose(local.get(0).get(), simulated.get(0).get());
        assertClose(local.get(1).get(), simulated.get(1).get());
    }

    @Test
    void greedyGeneration_ofFiveTokens_givesTheSameIds() {
        Generation greedy = Generation.maxNewTokens(5).greedy();
        Tensor local = lm.generate(PROMPT, greedy, tr -> lm.generator().output());
        Tensor simulated = lm.on(Remote.local()).generate(PROMPT, greedy, tr -> lm.generator().output());
        List<Long> streamed = lm.on(Remote.local()).generate(PROMPT, greedy, tr -> {
            List<Long> tokens = new ArrayList<>();
            for (int step : tr.all()) {
                tokens.add(lm.get("generator.streamer").output().item_long());
            }
            return tokens;
        });

        long[] expected = Tensors.longs(local);
        assertArrayEquals(expected, Tensors.longs(simulated));
        long[] tail = new long[5];
        for (int i = 0; i < 5; i++) {
            tail[i] = streamed.get(i);
        }
        assertArrayEquals(java.util.Arrays.copyOfRange(expected, expected.length - 5, expected.length), tail);
    }

    @Test
    void session_whoseSecondTraceUsesTheFirstsValue_matchesALocalSession() {
        Tensor local = lm.session(() -> {
            Tensor clean = lm.trace(OTHER, tr -> lm.get("model.layers.2").output().select(1, -1));
            return lm.trace(PROMPT, tr -> {
                Tensor hidden = lm.get("model.layers.2").output();
                hidden.select(1, -1).copy_(clean.select(0, 0));
                return lm.get("lm_head").output().select(1, -1);
            });
        });
        Tensor simulated = lm.on(Remote.local()).session(() -> {
            Tensor clean = lm.trace(OTHER, tr -> lm.get("model.layers.2").output().select(1, -1));
            return lm.trace(PROMPT, tr -> {
                Tensor hidden = lm.get("model.layers.2").output();
                hidden.select(1, -1).copy_(clean.select(0, 0));
                return lm.get("lm_head").output().select(1, -1);
            });
        });

        assertClose(local, simulated);
        Tensor plain = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
        assertFalse(torch.allclose(plain, simulated, 0, 1e-3, false), "the patch changed the logits");
    }

    @Test
    void inputsOfEveryKind_travel_andMatchALocalTrace() {
        long[] ids = lm.tokenizer().encode(PROMPT);
        Tensor idTensor = torch.tensor(ids).unsqueeze(0);
        Inputs named = Inputs.of(List.of(), Map.of("input_ids", idTensor, "attention_mask", torch.ones_like(idTensor)));
        Tensor expected = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

        for (Object input : List.of(ids, idTensor, named)) {
            Tensor simulated = lm.on(Remote.local()).trace(input, tr -> lm.get("lm_head").output().select(1, -1));
            assertClose(expected, simulated);
        }
        Tensor both = lm.on(Remote.local()).trace(List.of(PROMPT, OTHER), tr -> lm.get("lm_head").output().select(1, -1));
        assertClose(lm.trace(List.of(PROMPT, OTHER), tr -> lm.get("lm_head").output().select(1, -1)), both);
    }

    @Test
    void sampledGeneration_withASeed_givesTheSameIds() {
        Generation sampled = Generation.maxNewTokens(5).temperature(0.9).topK(20).seed(7);
        Tensor local = lm.generate(PROMPT, sampled, tr -> lm.generator().output());
        Tensor simulated = lm.on(Remote.local()).generate(PROMPT, sampled, tr -> lm.generator().output());

        assertArrayEquals(Tensors.longs(local), Tensors.longs(simulated));
    }

    @Test
    void generationFromInvokes_matchesALocalGeneration() {
        Generation greedy = Generation.maxNewTokens(4);
        List<Invoke<Tensor>> local = lm.generate(greedy, tr -> List.of(
                tr.invoke(PROMPT, () -> lm.generator().output()), tr.invoke(OTHER, () -> lm.generator().output())));
        List<Invoke<Tensor>> simulated = lm.on(Remote.local()).generate(greedy, tr -> List.of(
                tr.invoke(PROMPT, () -> lm.generator().output()), tr.invoke(OTHER, () -> lm.generator().output())));

        assertArrayEquals(Tensors.longs(local.get(0).get()), Tensors.longs(simulated.get(0).get()));
        assertArrayEquals(Tensors.longs(local.get(1).get()), Tensors.longs(simulated.get(1).get()));
    }

    // ---- works locally, fails remotely ----

    private void assertRefused(RemoteException error, String... parts) {
        for (String part : parts) {
            assertTrue(error.getMessage().contains(part), "missing \"" + part + "\" in: " + error.getMessage());
        }
        assertModelStillWorks();
    }

    private static void assertModelStillWorks() {
        Tensor local = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
        assertClose(local, lm.on(Remote.local()).trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1)));
    }

    @Test
    void readingAFile_isRefused_namingFiles() throws Exception {
        Path file = Files.createTempFile("nnsight", ".txt");
        Files.writeString(file, "secret");
        String name = file.toString();
        try {
            RemoteException error = assertThrows(RemoteException.class, () -> lm.on(Remote.local()).trace(PROMPT,
                    tr -> {
                        try {
                            return Files.readString(Path.of(name));
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }));

            assertRefused(error, "sandbox refused", "java.nio.file", "files are off limits",
                    LocalSimulationTest.class.getName());
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void startingAThread_isRefused_namingThreads() {
        RemoteException error = assertThrows(RemoteException.class, () -> lm.on(Remote.local()).trace(PROMPT, tr -> {
            Thread thread = new Thread(() -> lm.get("lm_head").output());
            thread.start();
            return null;
        }));

        assertRefused(error, "sandbox refused", "java.lang.Thread", "job's own threads");
    }

    @Test
    void reflection_isRefused_namingReflection() {
        RemoteException error = assertThrows(RemoteException.class, () -> lm.on(Remote.local()).trace(PROMPT, tr -> {
            Method[] methods = LanguageModel.class.getDeclaredMethods();
            return methods.length;
        }));

        assertRefused(error, "sandbox refused", "getDeclaredMethods", "reflection could reach past the sandbox");
    }

    @Test
    void systemExit_isRefused_sayingItWouldStopTheServer() {
        boolean exit = Boolean.parseBoolean("false");
        RemoteException error = assertThrows(RemoteException.class, () -> lm.on(Remote.local()).trace(PROMPT, tr -> {
            if (!exit) {
                System.exit(3);
            }
            return null;
        }));

        assertRefused(error, "sandbox refused", "java.lang.System.exit(int)", "it would stop the server");
    }

    @Test
    void bodyThatThrows_reachesTheCaller_withItsTypeAndMessage() {
        RemoteException error = assertThrows(RemoteException.class, () -> lm.on(Remote.local()).trace(PROMPT, tr -> {
            Tensor logits = lm.get("lm_head").output();
            if (logits.dim() == 3) {
                throw new IllegalStateException("the body gave up at " + logits.size(1) + " tokens");
            }
            return logits;
        }));

        assertTrue(error.getMessage().contains("java.lang.IllegalStateException"), error.getMessage());
        int tokens = lm.tokenizer().encode(PROMPT).length;
        assertTrue(error.getMessage().contains("the body gave up at " + tokens + " tokens"), error.getMessage());
        assertTrue(error.getMessage().contains(LocalSimulationTest.class.getName()), error.getMessage());
        assertFalse(error.getMessage().contains("bodyThatThrows_reachesTheCaller_withItsTypeAndMessage("),
                "only the job's frames, not the caller's: " + error.getMessage());
        assertModelStillWorks();
    }

    /** An exception type of the application's own. */
    static final class InterventionFailed extends RuntimeException {
        InterventionFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    @Test
    void bodyThatThrowsItsOwnExceptionType_withACause_reachesTheCaller_withBoth() {
        RemoteException error = assertThrows(RemoteException.class, () -> lm.on(Remote.local()).trace(PROMPT, tr -> {
            try {
                return lm.get("model.layers.9").output();
            } catch (IllegalArgumentException e) {
                throw new InterventionFailed("layer 9 is missing", e);
            }
        }));

        assertTrue(error.getMessage().contains(InterventionFailed.class.getName() + ": layer 9 is missing"),
                error.getMessage());
        assertTrue(error.getMessage().contains("Caused by: java.lang.IllegalArgumentException: No module at "
                + "'model.layers.9'"), error.getMessage());
        assertModelStillWorks();
    }

    @Test
    void bodyThatPrints_runsAndReturns() {
        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            Tensor logits = lm.get("lm_head").output().select(1, -1);
            System.out.println("argmax " + logits.argmax().item_long());
            return logits;
        });

        assertClose(lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1)), simulated);
    }
}
