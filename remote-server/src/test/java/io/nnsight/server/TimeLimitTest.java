package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static io.nnsight.server.TestServers.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.TraceBody;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Jobs past their time limit: the executor's limit, and the server's hard limit for code that does not stop. */
class TimeLimitTest {
    private static LanguageModel lm;

    @AfterAll
    static void close() {
        lm = null;
    }

    private static void stories() {
        lm = Shared.stories();
    }

    /**
     * Holds the worker in a first trace, then sends {@code bodies}' traces one after another, each once the one before
     * waits in the queue (so they queue in order and then run as one batch), and lets the first trace end. Returns
     * the futures of {@code bodies}' traces, each completing with the exception its trace threw, or null.
     */
    private static List<CompletableFuture<RemoteException>> sendBatch(ModelServer server, GatedExecutor executor,
            HttpTransport http, ExecutorService threads, List<TraceBody<?>> bodies) throws InterruptedException {
        Remote remote = Remote.on(server.url()).apiKey(ALICE).quiet();
        CompletableFuture.runAsync(() -> lm.on(remote).trace(Shared.STORIES_PROMPT, tr -> lm.get("lm_head").output().size(1)),
                threads);
        awaitModel(http, model -> model.get("running").getAsInt() == 1);
        List<CompletableFuture<RemoteException>> traces = new ArrayList<>();
        for (TraceBody<?> body : bodies) {
            traces.add(CompletableFuture.supplyAsync(() -> {
                try {
                    lm.on(remote).trace(Shared.STORIES_PROMPT, body);
                    return null;
                } catch (RemoteException e) {
                    return e;
                }
            }, threads));
            int queued = traces.size();
            awaitModel(http, model -> model.get("queued").getAsInt() == queued);
        }
        executor.first.countDown();
        return traces;
    }

    private static JsonObject awaitModel(HttpTransport http, Predicate<JsonObject> condition)
            throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        JsonObject latest;
        while (!condition.test(latest = tinyStatus(http))) {
            if (System.nanoTime() > end) {
                throw new AssertionError("the model's status stayed " + latest);
            }
            Thread.sleep(5);
        }
        return latest;
    }

    /** Reads a layer, then multiplies big numbers for several seconds in one JDK call, which checks no deadline. */
    private static TraceBody<Integer> stuckInACall() {
        return tr -> {
            lm.get("model.layers.1").output();
            return BigInteger.valueOf(3).pow(40_000_000).bitLength();
        };
    }

    private static TraceBody<Long> topToken() {
        return tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long();
    }

    /** Spins 700 ms in its body, within a limit of 1 s: its own code, with deadline checks. */
    private static TraceBody<Long> spinning() {
        return tr -> {
            Tensor hidden = lm.get("model.layers.2").output();
            long start = System.nanoTime();
            long spins = 0;
            while (System.nanoTime() - start < 700_000_000L) {
                spins++;
            }
            return hidden.size(1) + spins * 0;
        };
    }

    @Test
    void stream_batchMemberStuckInItsOwnCode_failsAtItsOwnLimitPlusGrace_withItsPeers() throws Exception {
        stories();
        GatedExecutor executor = new GatedExecutor().openBatches();
        ExecutorService threads = Executors.newFixedThreadPool(6);
        try (ModelServer server = ModelServer.builder().model(lm.key(), lm).executor(executor).port(0)
                        .apiKeys(Set.of(ALICE)).timeLimit(Duration.ofSeconds(1)).stopGrace(Duration.ofMillis(500)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            long opened = System.nanoTime();
            List<CompletableFuture<RemoteException>> traces = sendBatch(server, executor, http, threads,
                    List.of(topToken(), stuckInACall(), topToken(), topToken()));
            RemoteException stuck = traces.get(1).get(60, TimeUnit.SECONDS);
            long failedAfter = System.nanoTime() - opened;

            // Its own limit plus the grace, not the batch's bound of 4 limits plus the grace (4.5 s).
            assertTrue(stuck.getMessage().endsWith("failed: the job did not stop within its time limit of 1 s (and 500 ms "
                    + "of grace): the server gave up on it"), stuck.getMessage());
            assertTrue(failedAfter >= Duration.ofMillis(1500).toNanos() && failedAfter < Duration.ofMillis(4500).toNanos(),
                    failedAfter / 1_000_000 + " ms");
            String stuckId = stuck.getMessage().split(" ")[2];
            for (int peer : new int[] {0, 2, 3}) {
                RemoteException e = traces.get(peer).get(60, TimeUnit.SECONDS);
                assertTrue(e != null && e.getMessage().endsWith("failed: the job shared a batch with job " + stuckId
                        + ", which did not stop within its time limit of 1 s (and 500 ms of grace): the server gave up "
                        + "on it"), String.valueOf(e));
            }
            assertEquals("UNAVAILABLE", tinyStatus(http).get("state").getAsString());

            // Once the call returns, the job's code stops at its next check, and the model serves again.
            awaitModel(http, model -> model.get("state").getAsString().equals("RUNNING"));
            Remote remote = Remote.on(server.url()).apiKey(ALICE).quiet();
            assertEquals(lm.trace(Shared.STORIES_PROMPT, topToken()), lm.on(remote).trace(Shared.STORIES_PROMPT, topToken()));
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void stream_batchMembersWaitingPastTheirOwnLimits_areNotStuck_allComplete() throws Exception {
        stories();
        GatedExecutor executor = new GatedExecutor().openBatches();
        ExecutorService threads = Executors.newFixedThreadPool(6);
        try (ModelServer server = ModelServer.builder().model(lm.key(), lm).executor(executor).port(0)
                        .apiKeys(Set.of(ALICE)).timeLimit(Duration.ofSeconds(1)).stopGrace(Duration.ofMillis(300)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            // Each spins 700 ms: together 2.1 s, past each one's limit plus the grace (1.3 s) counted from the start,
            // but each is charged for its own code only: the watchdog looks, and waits again.
            List<CompletableFuture<RemoteException>> traces = sendBatch(server, executor, http, threads,
                    List.of(spinning(), spinning(), spinning()));
            for (CompletableFuture<RemoteException> trace : traces) {
                assertEquals(null, trace.get(60, TimeUnit.SECONDS));
            }
            JsonObject model = tinyStatus(http);
            assertEquals("RUNNING", model.get("state").getAsString());
            assertEquals(3, model.getAsJsonObject("batch").getAsJsonObject("max").get("jobs").getAsInt(), model.toString());
        } finally {
            threads.shutdownNow();
        }
    }

    private static JsonObject tinyStatus(HttpTransport http) {
        return http.status().getAsJsonArray("models").get(0).getAsJsonObject();
    }

    @Test
    void execute_getsTheTimeLimit() {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).timeLimit(Duration.ofSeconds(42)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            http.stream(http.submit("tiny", payload("echo x")).id(), m -> {});
            assertEquals(Duration.ofSeconds(42), executor.limits.get(0));
        }
    }

    @Test
    void stream_pastHardLimit_errorAndServerAnswers() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        // one job at a time: the job behind the stuck one must wait, not share its batch (a batch's rule differs)
        try (ModelServer server = TestServers.builder(executor).model("tiny2", TestServers.tiny())
                        .timeLimit(Duration.ofMillis(200)).stopGrace(Duration.ofMillis(300)).batchJobs(1).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            StatusMessage stuck = http.submit("tiny", payload("stuck 2500"));
            StatusMessage waiting = http.submit("tiny", payload("echo behind"));
            RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(2),
                    () -> assertThrows(RemoteException.class, () -> http.stream(stuck.id(), m -> {})));
            assertEquals("remote job " + stuck.id() + " failed: the job did not stop within its time limit of 200 ms "
                    + "(and 300 ms of grace): the server gave up on it", e.getMessage());

            // The job waiting behind it fails, and the model takes no jobs while the code still runs.
            StatusMessage behind = http.poll(waiting.id());
            assertEquals(JobStatus.ERROR, behind.status());
            assertTrue(behind.description().startsWith("model 'tiny' is unavailable: job " + stuck.id()
                    + " did not stop within its time limit"), behind.description());
            RemoteException refused = assertThrows(RemoteException.class, () -> http.submit("tiny", payload("echo x")));
            assertTrue(refused.getMessage().contains("HTTP 503") && refused.getMessage().contains("is unavailable"),
                    refused.getMessage());
            JsonObject status = tinyStatus(http);
            assertEquals("UNAVAILABLE", status.get("state").getAsString());
            assertEquals(1, status.get("running").getAsInt());

            // The server and its other models keep serving.
            http.ping();
            assertEquals("other", text(http.download(http.stream(http.submit("tiny2", payload("echo other")).id(),
                    m -> {}).id(), 100)));

            // Once the code returns, its result is dropped and the model serves again.
            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!tinyStatus(http).get("state").getAsString().equals("RUNNING") && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            assertEquals(JobStatus.ERROR, http.poll(stuck.id()).status());
            assertEquals("again", text(http.download(http.stream(http.submit("tiny", payload("echo again")).id(),
                    m -> {}).id(), 100)));
        }
    }

    @Test
    void stream_executorReportingAnEndPastTheLimit_isGivenIt_andTheJobCompletes() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).timeLimit(Duration.ofMillis(200))
                        .stopGrace(Duration.ofMillis(300)).batchJobs(1).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            // 1 s is past the limit and the grace (500 ms), but the executor reports the job ends later: it waited
            // elsewhere, as a Ray replica's call does behind the replica's other calls
            StatusMessage elsewhere = http.submit("tiny", payload("elsewhere 1000 done"));

            assertEquals("done", text(http.download(http.stream(elsewhere.id(), m -> {}).id(), 100)));
            assertEquals("RUNNING", tinyStatus(http).get("state").getAsString());
        }
    }

    @Test
    void stream_batchMemberPastHardLimit_everyMemberFailsAfterTheBatchsLimit() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).timeLimit(Duration.ofMillis(200))
                        .stopGrace(Duration.ofMillis(300)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            String first = http.submit("tiny", payload("wait first")).id();
            TestServers.awaitStatus(http, first, JobStatus.RUNNING);
            StatusMessage stuck = http.submit("tiny", payload("stuck 2500"));
            StatusMessage peer = http.submit("tiny", payload("echo peer"));
            long opened = System.nanoTime();
            executor.gate.countDown(); // the two waiting jobs then run as one batch
            RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(3),
                    () -> assertThrows(RemoteException.class, () -> http.stream(stuck.id(), m -> {})));
            // A batch of 2 gets 2 time limits plus the grace: 700 ms from its start, which came after the gate opened.
            assertTrue(System.nanoTime() - opened >= Duration.ofMillis(700).toNanos());
            String within = "failed: the job did not stop within the time limit of the batch of 2 jobs it ran in (2 × "
                    + "200 ms) (and 300 ms of grace): the server gave up on it";
            assertEquals("remote job " + stuck.id() + " " + within, e.getMessage());
            StatusMessage peerEnd = http.poll(peer.id());
            assertEquals(JobStatus.ERROR, peerEnd.status());
            assertEquals(within.substring("failed: ".length()), peerEnd.description());
            assertEquals("UNAVAILABLE", tinyStatus(http).get("state").getAsString());

            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!tinyStatus(http).get("state").getAsString().equals("RUNNING") && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            assertEquals("again", text(http.download(http.stream(http.submit("tiny", payload("echo again")).id(),
                    m -> {}).id(), 100)));
        }
    }

    @Test
    void stream_executorStopsInTime_noHardLimit() {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).timeLimit(Duration.ofMillis(100))
                        .stopGrace(Duration.ofSeconds(5)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            // Slower than the limit, but within the grace: the executor is trusted with the limit.
            StatusMessage slow = http.submit("tiny", payload("sleep 300 slow"));
            assertEquals("slow", text(http.download(http.stream(slow.id(), m -> {}).id(), 100)));
            assertEquals("RUNNING", tinyStatus(http).get("state").getAsString());
        }
    }
}
