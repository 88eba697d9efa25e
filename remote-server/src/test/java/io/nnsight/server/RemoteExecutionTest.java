package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Backend;
import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.TraceJob;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.nn.Linear;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.RemoteJob;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interventions on a real model through a real server: each gives the same numbers run locally, through
 * {@link Remote#local()} and through {@link ModelServer} on loopback, which runs them with the
 * {@link SandboxedExecutor}.
 */
class RemoteExecutionTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    private static final String OTHER = "Tom had a big red ball";

    /** Runs a job in this JVM, as a trace without a backend does. */
    private static final Backend HERE = new Backend() {
        @Override
        public <R> R run(Job<R> job) {
            return job.run();
        }
    };

    private static LanguageModel lm;
    private static ModelServer server;
    private static Remote remote;

    @BeforeAll
    static void start() {
        lm = LanguageModel.load(TestServers.shared("models/stories260K").toString());
        server = ModelServer.builder().model(lm.key(), lm).port(0)
                .apiKeys(java.util.Set.of(ALICE)).start();
        remote = Remote.on(server.url()).apiKey(ALICE).quiet();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The result of {@code run} locally, simulated and served; asserts the three are equal and returns it. */
    private static <T> T sameEverywhere(Function<Backend, T> run) {
        T local = run.apply(HERE);
        T simulated = run.apply(Remote.local());
        T served = run.apply(remote);
        assertEqualValues(local, simulated, "Remote.local()");
        assertEqualValues(local, served, "the server");
        return local;
    }

    private static void assertEqualValues(Object expected, Object actual, String where) {
        if (expected instanceof Tensor) {
            assertTrue(actual instanceof Tensor, where + " gave " + actual);
            Tensor a = (Tensor) expected;
            Tensor b = (Tensor) actual;
            assertEquals(Arrays.toString(a.sizes().vec().get()), Arrays.toString(b.sizes().vec().get()), where);
            assertTrue(a.equal(b), where + " gave other numbers");
        } else if (expected instanceof List) {
            List<?> a = (List<?>) expected;
            List<?> b = (List<?>) actual;
            assertEquals(a.size(), b.size(), where);
            for (int i = 0; i < a.size(); i++) {
                assertEqualValues(a.get(i), b.get(i), where + " [" + i + "]");
            }
        } else {
            assertEquals(expected, actual, where);
        }
    }

    @Test
    void trace_lastLogits_sameEverywhere() {
        Tensor logits = sameEverywhere(backend -> lm.on(backend).trace(PROMPT,
                tr -> lm.get("lm_head").output().select(1, -1)));

        assertEquals(338, logits.argmax().item_long(), "the reference's top token after the prompt");
    }

    @Test
    void trace_blocking_oneHttpExchange() throws IOException {
        try (CountingProxy proxy = new CountingProxy(server.port())) {
            Remote counted = Remote.on(proxy.url()).apiKey(ALICE).quiet();
            Tensor served = lm.on(counted).trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

            assertEquals(List.of("POST /request HTTP/1.1"), proxy.takeRequestLines(), "submitted, followed, answered at once");
            assertEqualValues(lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1)), served, "the server");
        }
    }

    @Test
    void trace_resultOverTheInlineLimit_downloadedAfterTheStream() throws IOException {
        try (CountingProxy proxy = new CountingProxy(server.port())) {
            Remote counted = Remote.on(proxy.url()).apiKey(ALICE).quiet();
            // 4 MiB of float32 sines: more than a compressed result sent inline
            Function<Backend, Tensor> sines = backend -> lm.on(backend).trace(PROMPT,
                    tr -> torch.arange(new Scalar(1 << 20)).sin());
            Tensor served = sines.apply(counted);

            List<String> requests = proxy.takeRequestLines();
            assertEquals(2, requests.size(), requests.toString());
            assertEquals("POST /request HTTP/1.1", requests.get(0));
            assertTrue(requests.get(1).startsWith("GET /result/"), requests.toString());
            assertEqualValues(sines.apply(HERE), served, "the server");
        }
    }

    @Test
    void trace_savesIntoACapturedList_sameEverywhere() {
        List<Tensor> layers = sameEverywhere(backend -> {
            List<Tensor> seen = new ArrayList<>();
            Object result = lm.on(backend).trace(PROMPT, tr -> {
                for (int i = 0; i < lm.layerCount(); i++) {
                    seen.add(NNsight.save(lm.get("model.layers." + i).output()));
                }
                return null;
            });
            assertEquals(null, result);
            return seen;
        });

        assertEquals(lm.layerCount(), layers.size());
    }

    @Test
    void trace_zeroedMlp_changesTheLogits_sameEverywhere() {
        Tensor clean = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

        Tensor ablated = sameEverywhere(backend -> lm.on(backend).trace(PROMPT, tr -> {
            lm.get("model.layers.0.mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1);
        }));

        assertFalse(clean.equal(ablated));
    }

    @Test
    void trace_twoInvokes_sameEverywhere() {
        List<Tensor> lastLogits = sameEverywhere(backend -> {
            List<Tensor> seen = new ArrayList<>();
            lm.on(backend).trace(tr -> {
                tr.invoke(PROMPT, () -> seen.add(NNsight.save(lm.get("lm_head").output().select(1, -1))));
                tr.invoke(OTHER, () -> seen.add(NNsight.save(lm.get("lm_head").output().select(1, -1))));
                return null;
            });
            return seen;
        });

        assertEquals(2, lastLogits.size());
    }

    @Test
    void generate_greedyTokensAndSteps_sameEverywhere() {
        List<Long> tokens = sameEverywhere(backend -> lm.on(backend).generate(PROMPT, Generation.maxNewTokens(5), tr -> {
            List<Long> streamed = new ArrayList<>();
            for (int step : tr.all()) {
                streamed.add(lm.get("generator.streamer").output().item_long());
            }
            return streamed;
        }));

        assertEquals(5, tokens.size());
    }

    @Test
    void session_patchesOneTraceWithAnother_onTheServer() {
        Tensor patched = sameEverywhere(backend -> lm.on(backend).session(() -> {
            Tensor clean = lm.trace(PROMPT, tr -> lm.get("model.layers.1").output().select(1, -1));
            return lm.trace(OTHER, tr -> {
                Tensor hidden = lm.get("model.layers.1").output();
                hidden.select(1, -1).copy_(clean);
                return lm.get("lm_head").output().select(1, -1);
            });
        }));

        Tensor unpatched = lm.trace(OTHER, tr -> lm.get("lm_head").output().select(1, -1));
        assertFalse(unpatched.equal(patched));
    }

    @Test
    void session_savesIntoACapturedList_sameEverywhere() {
        List<Tensor> seen = sameEverywhere(backend -> {
            List<Tensor> saved = new ArrayList<>();
            lm.on(backend).session(() -> {
                lm.trace(PROMPT, tr -> saved.add(NNsight.save(lm.get("model.layers.0").output().select(1, -1))));
                lm.trace(OTHER, tr -> saved.add(NNsight.save(lm.get("model.layers.0").output().select(1, -1))));
                return null;
            });
            return saved;
        });

        assertEquals(2, seen.size());
        assertFalse(seen.get(0).equal(seen.get(1)));
    }

    /** Application code the server does not have: it travels with the job. */
    static final class LogitLens {
        private final int k;

        LogitLens(int k) {
            this.k = k;
        }

        /** The top tokens of a hidden state read through the unembedding. */
        List<Long> top(Tensor hidden) {
            Tensor unembedding = ((Linear) lm.get("lm_head").module()).weight();
            return Ranking.top(torch.matmul(unembedding, hidden), k);
        }
    }

    /** A helper the helper calls, with state of its own. */
    static final class Ranking {
        static int calls;

        static List<Long> top(Tensor logits, int k) {
            calls++;
            List<Long> ids = new ArrayList<>();
            Tensor indices = logits.topk(k).get1();
            for (int i = 0; i < k; i++) {
                ids.add(indices.select(0, i).item_long());
            }
            return ids;
        }
    }

    /** A record of the test's own, as the result. */
    record Lens(Map<Integer, List<Long>> topByLayer, int calls) {}

    @Test
    void helperClassesOfTheTest_runOnTheServer() {
        LogitLens lens = new LogitLens(3);

        Lens result = sameEverywhere(backend -> {
            Ranking.calls = 0;
            return lm.on(backend).trace(PROMPT, tr -> {
                Map<Integer, List<Long>> top = new LinkedHashMap<>();
                for (int i = 0; i < lm.layerCount(); i++) {
                    Tensor last = lm.get("model.layers." + i).output().select(0, 0).select(0, -1);
                    top.put(i, lens.top(last));
                }
                return new Lens(top, Ranking.calls);
            });
        });

        assertEquals(lm.layerCount(), result.topByLayer().size());
        assertEquals(lm.layerCount(), result.calls(), "the static counter travelled with its class");
        assertEquals(0, Ranking.calls, "the shipped copy's counter is not this JVM's");
    }

    @Test
    void weightsChangedThroughATensorAlias_areRestoredForTheNext() {
        Tensor before = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

        Tensor during = lm.on(remote).trace(PROMPT, tr -> {
            ((Linear) lm.get("lm_head").module()).weight().tensor_data().mul_(new Scalar(2.0));
            return lm.get("lm_head").output().select(1, -1);
        });

        assertFalse(before.allclose(during), "the job saw its own change");
        assertTrue(before.equal(lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1))));
    }

    @Test
    void aliasesThatHideChanges_areRefused() {
        RemoteException error = assertThrows(RemoteException.class, () -> lm.on(remote).trace(PROMPT, tr -> {
            ((Linear) lm.get("lm_head").module()).weight().data().mul_(new Scalar(2.0));
            return null;
        }));

        assertTrue(error.getMessage().contains("Tensor.data() — it aliases a tensor without counting changes"),
                error.getMessage());
    }

    @Test
    void weightsChangedByAJob_areRestoredForTheNext() {
        Tensor before = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

        Tensor during = lm.on(remote).trace(PROMPT, tr -> {
            ((Linear) lm.get("lm_head").module()).weight().detach().zero_();
            return lm.get("lm_head").output().select(1, -1);
        });
        Tensor after = lm.on(remote).trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

        assertEquals(0.0, during.abs().max().item_double(), "the job saw its own change");
        assertTrue(before.equal(after), "the next job ran on the weights as loaded");
        assertTrue(before.equal(lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1))));
    }

    @Test
    void sixteenConcurrentClients_eachGetsItsOwnResult() throws Exception {
        List<String> prompts = new ArrayList<>();
        List<Long> expected = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            String prompt = i % 2 == 0 ? PROMPT.substring(0, 10 + i) : OTHER.substring(0, 5 + i);
            prompts.add(prompt);
            expected.add(lm.trace(prompt, tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long()));
        }

        List<Long> served = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            ExecutorService clients = Executors.newFixedThreadPool(16);
            try {
                List<Future<Long>> answers = new ArrayList<>();
                for (String prompt : prompts) {
                    answers.add(clients.submit(() -> lm.on(remote).trace(prompt,
                            tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long())));
                }
                List<Long> ids = new ArrayList<>();
                for (Future<Long> answer : answers) {
                    ids.add(answer.get());
                }
                return ids;
            } finally {
                clients.shutdownNow();
            }
        });

        assertEquals(expected, served);
    }

    @Test
    void serverStopped_withJobsQueued_clientsGetAClearError() {
        ModelServer stopping = ModelServer.builder().model(lm.key(), lm).port(0)
                .apiKeys(java.util.Set.of(ALICE)).stopGrace(Duration.ofMillis(200)).start();
        Remote client = Remote.on(stopping.url()).apiKey(ALICE).quiet();
        List<RemoteJob<Long>> jobs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            jobs.add(client.submit(new TraceJob<>(lm, PROMPT, tr -> {
                long end = System.nanoTime() + 2_000_000_000L;
                long spins = 0;
                while (System.nanoTime() < end) {
                    spins++;
                }
                return spins;
            })));
        }

        stopping.close();

        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            for (RemoteJob<Long> job : jobs) {
                RemoteException error = assertThrows(RemoteException.class, job::await);
                assertNotNull(error.getMessage());
                assertTrue(error.getMessage().contains("stop") || error.getMessage().contains("reach"),
                        error.getMessage());
            }
        });
    }

    @Test
    void printedLines_reachTheCallersStandardOutput() {
        java.io.PrintStream original = System.out;
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            lm.on(remote).trace(PROMPT, tr -> {
                System.out.println("hidden size " + lm.get("model.norm").output().size(2));
                return null;
            });
        } finally {
            System.setOut(original);
        }

        assertEquals("hidden size 64", printed.toString(java.nio.charset.StandardCharsets.UTF_8).strip());
    }

    @Test
    void submit_thenPoll_givesTheResultWhenReady() throws InterruptedException {
        long expected = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long());

        RemoteJob<Long> job = remote.submit(new TraceJob<>(lm, PROMPT,
                tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long()));
        assertNotNull(job.id());
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        java.util.Optional<Long> result;
        while ((result = job.poll()).isEmpty()) {
            assertTrue(System.nanoTime() < end, "the job is still " + job.state());
            Thread.sleep(10);
        }

        assertEquals(expected, result.get());
        assertEquals(RemoteJob.State.COMPLETED, job.state());
        assertEquals(expected, job.poll().get(), "a completed handle keeps its result");
    }

    @Test
    void editedWrapper_runsItsEditsOnTheServer_likeHere() {
        LanguageModel edited = lm.edit(tr -> lm.get("model.layers.2.mlp").output().zero_())
                .edit(tr -> lm.get("model.layers.4").output().mul_(new Scalar(0.5)));
        Tensor plain = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));

        Tensor traced = sameEverywhere(backend -> edited.on(backend).trace(PROMPT,
                tr -> lm.get("lm_head").output().select(1, -1)));
        assertTrue(traced.equal(edited.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1))));
        assertFalse(traced.equal(plain), "the edits change the logits");

        Tensor generated = sameEverywhere(backend -> edited.on(backend).generate(PROMPT, Generation.maxNewTokens(3),
                tr -> lm.generator().output()));
        assertTrue(generated.equal(edited.generate(PROMPT, Generation.maxNewTokens(3), tr -> lm.generator().output())));

        List<Tensor> inSession = sameEverywhere(backend -> lm.on(backend).session(() -> List.of(
                edited.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1)),
                lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1)))));
        assertTrue(inSession.get(0).equal(traced), "a session's trace of an edited wrapper it captured runs the edits");
        assertTrue(inSession.get(1).equal(plain), "and its trace of the model it runs on does not");
    }

    @Test
    void renamedWrapper_runsOnTheServerByItsAliases_likeHere_andTheHostedModelKeepsItsOwn() {
        LanguageModel client = LanguageModel.load(TestServers.shared("models/stories260K").toString());
        client.rename(Map.of("model.layers", "blocks", "mlp", "ffn"));
        Map<String, List<String>> hostedAliases = lm.renames();

        Tensor ablated = sameEverywhere(backend -> client.on(backend).trace(PROMPT, tr -> {
            client.get("blocks.2.ffn").output().zero_();
            return client.get("lm_head").output().select(1, -1);
        }));
        Tensor tokens = sameEverywhere(backend -> client.on(backend).generate(PROMPT, Generation.maxNewTokens(3),
                tr -> {
                    client.get("blocks.1.ffn").output().zero_();
                    return client.generator().output();
                }));

        assertTrue(ablated.equal(lm.trace(PROMPT, tr -> {
            lm.get("model.layers.2.mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1);
        })), "the aliases named the same modules on the server");
        assertTrue(tokens.equal(lm.generate(PROMPT, Generation.maxNewTokens(3), tr -> {
            lm.get("model.layers.1.mlp").output().zero_();
            return lm.generator().output();
        })));
        assertEquals(hostedAliases, lm.renames(), "the server's model did not keep the client's aliases");
        RemoteException unknown = assertThrows(RemoteException.class,
                () -> lm.on(remote).trace(PROMPT, tr -> lm.get("blocks.2").output()));
        assertTrue(unknown.getMessage().contains("'blocks'"), "another client's job does not see them: "
                + unknown.getMessage());
    }

    @Test
    void importedEdits_areRefusedBeforeShipping_sayingTheyRunHereOnly(@TempDir Path folder) throws IOException {
        Path file = folder.resolve("ablate.nnedits");
        lm.edit(tr -> lm.get("model.layers.2.mlp").output().zero_()).exportEdits(file);
        LanguageModel imported = lm.importEdits(file);

        for (Backend backend : List.of(Remote.local(), remote)) {
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                    () -> imported.on(backend).trace(PROMPT, tr -> lm.get("lm_head").output()));
            assertTrue(error.getMessage().contains("imported with importEdits"), error.getMessage());
        }
    }

    @Test
    void copyWithoutEdits_runsRemotely_likeTheOriginal() {
        LanguageModel copy = lm.edit(tr -> lm.get("model.layers.2.mlp").output().zero_());
        copy.clearEdits();

        Tensor logits = sameEverywhere(backend -> copy.on(backend).trace(PROMPT,
                tr -> copy.get("lm_head").output().select(1, -1)));

        assertTrue(logits.equal(lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1))));
    }
}
