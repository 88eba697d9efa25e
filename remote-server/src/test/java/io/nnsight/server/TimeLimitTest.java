package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static io.nnsight.server.TestServers.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Jobs past their time limit: the executor's limit, and the server's hard limit for code that does not stop. */
class TimeLimitTest {
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
        try (ModelServer server = TestServers.builder(executor).model("tiny2", TestServers.tiny())
                        .timeLimit(Duration.ofMillis(200)).stopGrace(Duration.ofMillis(300)).start();
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
