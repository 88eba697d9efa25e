package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.Tensors;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching of generations on a real server: stories260K, the real {@link SandboxedExecutor}, 16 client
 * threads shipping generations of different lengths, token counts and seeds with the real client. Each gets the
 * tokens it gets alone in this JVM, and the model's {@code /status} shows that jobs ran together; under a rows limit of
 * one, a generation waits for the running one to leave.
 */
class ContinuousServerTest {
    private static LanguageModel lm;
    private static final String[] PROMPTS = {"Once upon a time", "Tom saw a big dog", "Lily had a red ball.",
        "The sun was hot", "A little bird sang in the tree", "Mom made a cake", "Ben and Sue went to the park",
        "The cat"};

    @BeforeAll
    static void load() {
        lm = LanguageModel.load(TestServers.shared("models/stories260K").toString());
    }

    @AfterAll
    static void close() {
        lm = null;
    }

    private static Generation generation(int client) {
        Generation generation = Generation.maxNewTokens(8 + client % 13);
        return client % 4 == 3 ? generation.temperature(1.2).seed(client) : generation;
    }

    private static String prompt(int client) {
        return PROMPTS[client % PROMPTS.length];
    }

    @Test
    void generate_sixteenConcurrentClients_eachGetsItsSoloTokens_sharingForwardPasses() throws Exception {
        List<long[]> solo = new ArrayList<>();
        for (int client = 0; client < 16; client++) {
            solo.add(Tensors.longs(lm.generate(prompt(client), generation(client), tr -> lm.generator().output())
                    .flatten()));
        }
        SandboxedExecutor executor = new SandboxedExecutor();
        ExecutorService threads = Executors.newFixedThreadPool(16);
        try (ModelServer server = ModelServer.builder().model(lm.key(), lm).executor(executor).port(0)
                .apiKeys(Set.of(ALICE)).timeLimit(Duration.ofSeconds(60)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            Remote remote = Remote.on(server.url()).apiKey(ALICE).quiet();
            List<CompletableFuture<Tensor>> clients = new ArrayList<>();
            for (int client = 0; client < 16; client++) {
                int own = client;
                clients.add(CompletableFuture.supplyAsync(() -> lm.on(remote).generate(prompt(own), generation(own),
                        tr -> lm.generator().output()), threads));
            }
            for (int client = 0; client < 16; client++) {
                long[] served = Tensors.longs(clients.get(client).get(120, TimeUnit.SECONDS).flatten());
                assertEquals(Arrays.toString(solo.get(client)), Arrays.toString(served), "client " + client);
            }
            JsonObject model = http.status().getAsJsonArray("models").get(0).getAsJsonObject();
            JsonObject batch = model.getAsJsonObject("batch");
            assertTrue(batch.getAsJsonObject("max").get("jobs").getAsInt() > 1, "jobs ran together: " + model);
            assertEquals(1.0, batch.getAsJsonObject("mean").get("forwards").getAsDouble(), "each step is one pass");
            assertEquals(batch.getAsJsonObject("max").get("jobs"), batch.getAsJsonObject("max").get("rows"),
                    "one prompt each: as many rows as jobs in a step: " + batch);
            assertTrue(batch.getAsJsonObject("max").get("tokens").getAsInt()
                    > batch.getAsJsonObject("max").get("rows").getAsInt(), "a step that ran prompts: " + batch);
            assertEquals(0, model.get("running").getAsInt(), model.toString());
            // afterwards a trace still gets its solo numbers
            Tensor logits = lm.on(remote).trace("Once upon a time", tr -> lm.get("lm_head").output().select(1, -1));
            Tensor alone = lm.trace("Once upon a time", tr -> lm.get("lm_head").output().select(1, -1));
            assertTrue(org.bytedeco.pytorch.global.torch.allclose(alone, logits, 0, 1e-4, false));
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void generate_aGenerationBeyondTheRowsLimit_waitsForTheRunningOneToLeave_andGetsItsSoloTokens() throws Exception {
        Generation longer = Generation.maxNewTokens(150);
        Generation shorter = Generation.maxNewTokens(3);
        long[] longAlone = Tensors.longs(lm.generate("Once upon a time", longer, tr -> lm.generator().output())
                .flatten());
        long[] shortAlone = Tensors.longs(lm.generate("The cat", shorter, tr -> lm.generator().output()).flatten());
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try (ModelServer server = ModelServer.builder().model(lm.key(), lm).port(0).apiKeys(Set.of(ALICE))
                .timeLimit(Duration.ofSeconds(60)).batchRows(1).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            Remote remote = Remote.on(server.url()).apiKey(ALICE).quiet();
            CompletableFuture<Tensor> first = CompletableFuture.supplyAsync(() -> lm.on(remote).generate(
                    "Once upon a time", longer, tr -> lm.generator().output()), threads);
            long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (http.status().getAsJsonArray("models").get(0).getAsJsonObject().get("running").getAsInt() == 0
                    && System.nanoTime() < waitUntil) {
                Thread.sleep(1);
            }

            Tensor second = CompletableFuture.supplyAsync(() -> lm.on(remote).generate("The cat", shorter,
                    tr -> lm.generator().output()), threads).get(120, TimeUnit.SECONDS);

            assertTrue(first.isDone(), "the short generation waited for the long one: one row at a time");
            assertEquals(Arrays.toString(shortAlone), Arrays.toString(Tensors.longs(second.flatten())));
            assertEquals(Arrays.toString(longAlone), Arrays.toString(Tensors.longs(first.get().flatten())));
        } finally {
            threads.shutdownNow();
        }
    }
}
