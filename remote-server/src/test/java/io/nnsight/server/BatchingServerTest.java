package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.BOB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Co-batching on a real server: stories260K, the real {@link SandboxedExecutor}, and traces shipped by the real client
 * from many threads. The executor is wrapped only to hold the worker at chosen points (so that jobs are known to be
 * waiting, or running in a batch, without relying on timing) and to record the size of each call.
 */
class BatchingServerTest {
    private static final double ATOL = 1e-4;

    private static LanguageModel lm;
    /** Prompts of one token length, so that the executor really runs them as one forward pass. */
    private static List<String> prompts;
    /** Each prompt's last-position logits, traced alone in this JVM. */
    private static List<Tensor> solo;

    @BeforeAll
    static void load() {
        lm = LanguageModel.load(TestServers.shared("models/stories260K").toString());
        Map<Long, List<String>> byLength = new HashMap<>();
        String[] who = {"Tom", "Lily", "a cat", "a dog", "Mom", "Ben", "Sue", "a bird"};
        String[] what = {"a ball", "the sun", "a tree", "a car", "the sky", "a cake", "a toy", "the park"};
        for (String w : who) {
            for (String x : what) {
                String prompt = "Once upon a time " + w + " saw " + x + ".";
                long length = lm.trace(prompt, tr -> lm.get("lm_head").output().size(1));
                byLength.computeIfAbsent(length, k -> new ArrayList<>()).add(prompt);
            }
        }
        prompts = byLength.values().stream().filter(list -> list.size() >= 16).findFirst()
                .orElseThrow(() -> new IllegalStateException("no 16 prompts of one length: " + byLength)).subList(0, 16);
        solo = new ArrayList<>();
        for (String prompt : prompts) {
            solo.add(lm.trace(prompt, tr -> lm.get("lm_head").output().select(1, -1).clone()));
        }
    }

    @AfterAll
    static void close() {
        lm = null;
    }

    private static ModelServer.Builder server(GatedExecutor executor) {
        return ModelServer.builder().model(lm.key(), lm).executor(executor).port(0).apiKeys(Set.of(ALICE, BOB))
                .timeLimit(Duration.ofSeconds(60));
    }

    private static Remote remote(ModelServer server, String key) {
        return Remote.on(server.url()).apiKey(key).quiet();
    }

    /** Traces prompt {@code i} on the server, returning the last position's logits; {@code fail}: its body throws. */
    private static Tensor trace(Remote remote, int i, boolean fail) {
        String prompt = prompts.get(i);
        return lm.on(remote).trace(prompt, tr -> {
            if (fail) {
                throw new IllegalStateException("member " + i + " refuses");
            }
            return lm.get("lm_head").output().select(1, -1);
        });
    }

    private static JsonObject model(HttpTransport http) {
        return http.status().getAsJsonArray("models").get(0).getAsJsonObject();
    }

    /** Polls {@code /status} until the model's entry satisfies {@code condition}, for at most 60 seconds. */
    private static JsonObject awaitModel(HttpTransport http, Predicate<JsonObject> condition) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        JsonObject latest;
        while (!condition.test(latest = model(http))) {
            if (System.nanoTime() > end) {
                throw new AssertionError("the model's status stayed " + latest);
            }
            Thread.sleep(5);
        }
        return latest;
    }

    /** {@code /status}'s sizes of a batch. */
    private static JsonObject sizes(long jobs, long forwards, long rows, long tokens) {
        JsonObject sizes = new JsonObject();
        sizes.addProperty("jobs", jobs);
        sizes.addProperty("forwards", forwards);
        sizes.addProperty("rows", rows);
        sizes.addProperty("tokens", tokens);
        return sizes;
    }

    private static int queued(JsonObject model) {
        return model.get("queued").getAsInt();
    }

    private static int running(JsonObject model) {
        return model.get("running").getAsInt();
    }

    private static void assertSolo(int i, Tensor served) {
        Tensor expected = solo.get(i);
        assertTrue(torch.allclose(expected, served, 0, ATOL, false), "prompt " + i + " differs from its solo trace");
        assertEquals(expected.argmax().item_long(), served.argmax().item_long(), "prompt " + i + "'s top token");
    }

    /**
     * Holds the worker in a first job (prompt 0, sent with {@code firstKey}) until Alice's jobs of prompts
     * {@code 1..count-1} wait behind it, then lets it run; {@code failing} prompts' bodies throw. Returns each client's
     * future, prompt 0's first.
     */
    private static List<CompletableFuture<Tensor>> sendBehindFirst(ModelServer server, GatedExecutor executor,
            HttpTransport http, ExecutorService threads, int count, Set<Integer> failing, String firstKey)
            throws InterruptedException {
        List<CompletableFuture<Tensor>> clients = new ArrayList<>();
        clients.add(CompletableFuture.supplyAsync(() -> trace(remote(server, firstKey), 0, failing.contains(0)), threads));
        awaitModel(http, model -> running(model) == 1);
        for (int i = 1; i < count; i++) {
            int prompt = i;
            clients.add(CompletableFuture.supplyAsync(() -> trace(remote(server, ALICE), prompt, failing.contains(prompt)),
                    threads));
        }
        awaitModel(http, model -> queued(model) == count - 1);
        executor.first.countDown();
        return clients;
    }

    @Test
    void trace_sixteenConcurrentClients_eachGetsItsSoloResultInABatch() throws Exception {
        GatedExecutor executor = new GatedExecutor().openBatches();
        ExecutorService threads = Executors.newFixedThreadPool(16);
        try (ModelServer server = server(executor).start(); HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            List<CompletableFuture<Tensor>> clients = sendBehindFirst(server, executor, http, threads, 16, Set.of(), ALICE);
            for (int i = 0; i < 16; i++) {
                assertSolo(i, clients.get(i).get(120, TimeUnit.SECONDS));
            }
            assertEquals(List.of(1, 15), executor.sizes);
            JsonObject batch = model(http).getAsJsonObject("batch");
            long tokens = lm.trace(prompts.get(0), tr -> lm.get("lm_head").output().size(1));
            // the 15 jobs ran in one forward pass of 15 rows, none again alone; the first job ran alone
            assertEquals(sizes(15, 1, 15, 15 * tokens), batch.getAsJsonObject("last"), batch.toString());
            assertEquals(sizes(15, 1, 15, 15 * tokens), batch.getAsJsonObject("max"), batch.toString());
            assertEquals(8.0, batch.getAsJsonObject("mean").get("jobs").getAsDouble(), 1e-9, batch.toString());
            assertEquals(0.5, batch.getAsJsonObject("mean").get("forwards").getAsDouble(), 1e-9, batch.toString());
            assertEquals(1, batch.get("solo").getAsInt(), batch.toString());
            assertEquals(0, batch.get("evicted").getAsInt(), batch.toString());
            assertEquals(0, batch.get("reruns").getAsInt(), batch.toString());
            // Afterwards a job alone still gets its solo numbers.
            assertSolo(3, trace(remote(server, BOB), 3, false));
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void trace_batchJobsOne_eachJobRunsAlone() throws Exception {
        GatedExecutor executor = new GatedExecutor();
        ExecutorService threads = Executors.newFixedThreadPool(6);
        try (ModelServer server = server(executor).batchJobs(1).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            List<CompletableFuture<Tensor>> clients = sendBehindFirst(server, executor, http, threads, 6, Set.of(), ALICE);
            for (int i = 0; i < 6; i++) {
                assertSolo(i, clients.get(i).get(120, TimeUnit.SECONDS));
            }
            assertEquals(Collections.nCopies(6, 1), executor.sizes);
            JsonObject batch = model(http).getAsJsonObject("batch");
            assertEquals(sizes(1, 0, 0, 0), batch.getAsJsonObject("max"), batch.toString());
            assertEquals(1.0, batch.getAsJsonObject("mean").get("jobs").getAsDouble(), 1e-9, batch.toString());
            assertEquals(6, batch.get("solo").getAsInt(), batch.toString());
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void trace_memberBodyThrows_failsAloneOthersGetSoloResults() throws Exception {
        GatedExecutor executor = new GatedExecutor().openBatches();
        ExecutorService threads = Executors.newFixedThreadPool(8);
        Set<Integer> failing = Set.of(2, 5);
        try (ModelServer server = server(executor).start(); HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            List<CompletableFuture<Tensor>> clients = sendBehindFirst(server, executor, http, threads, 8, failing, ALICE);
            for (int i = 0; i < 8; i++) {
                if (failing.contains(i)) {
                    ExecutionException e = assertThrows(ExecutionException.class, clients.get(i)::get);
                    assertTrue(e.getCause() instanceof RemoteException, e.getCause().toString());
                    assertTrue(e.getCause().getMessage().contains("member " + i + " refuses"), e.getCause().getMessage());
                } else {
                    assertSolo(i, clients.get(i).get(120, TimeUnit.SECONDS));
                }
            }
            assertEquals(List.of(1, 7), executor.sizes);
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void submit_batchMembersRunning_countAgainstTheKeysQuota() throws Exception {
        GatedExecutor executor = new GatedExecutor();
        ExecutorService threads = Executors.newFixedThreadPool(6);
        try (ModelServer server = server(executor).maxQueuedJobsPerKey(4).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            // Bob's job holds the worker while four of Alice's queue; then the four run as one batch, held there.
            List<CompletableFuture<Tensor>> clients = sendBehindFirst(server, executor, http, threads, 5, Set.of(), BOB);
            JsonObject model = awaitModel(http, status -> running(status) == 4 && executor.sizes.size() == 2);
            assertEquals(0, queued(model));

            RemoteException refused = assertThrows(RemoteException.class, () -> trace(remote(server, ALICE), 5, false));
            assertTrue(refused.getMessage().contains("this API key already has 4 jobs waiting for or running on model"),
                    refused.getMessage());
            clients.add(CompletableFuture.supplyAsync(() -> trace(remote(server, BOB), 5, false), threads));
            awaitModel(http, status -> queued(status) == 1); // another key's job is taken

            executor.batches.countDown();
            for (int i = 0; i <= 5; i++) {
                assertSolo(i, clients.get(i).get(120, TimeUnit.SECONDS));
            }
            assertEquals(List.of(1, 4, 1), executor.sizes);
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void close_duringABatch_failsEveryMember() throws Exception {
        GatedExecutor executor = new GatedExecutor();
        ExecutorService threads = Executors.newFixedThreadPool(5);
        ModelServer server = server(executor).start();
        try (HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            List<CompletableFuture<Tensor>> clients = sendBehindFirst(server, executor, http, threads, 5, Set.of(), ALICE);
            assertSolo(0, clients.get(0).get(120, TimeUnit.SECONDS));
            awaitModel(http, model -> running(model) == 4 && executor.sizes.size() == 2);

            server.close();
            for (int i = 1; i < 5; i++) {
                CompletableFuture<Tensor> member = clients.get(i);
                ExecutionException e = assertThrows(ExecutionException.class, () -> member.get(30, TimeUnit.SECONDS));
                assertTrue(e.getCause() instanceof RemoteException, e.getCause().toString());
                assertTrue(e.getCause().getMessage().endsWith("failed: the server is shutting down"),
                        e.getCause().getMessage());
            }
            assertEquals(List.of(1, 4), executor.sizes);
            assertFalse(executor.batches.getCount() == 0, "the batch never ran");
        } finally {
            server.close();
            threads.shutdownNow();
        }
    }
}
