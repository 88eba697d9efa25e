package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.BOB;
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
import io.nnsight.server.internal.ModelQueue;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Jobs of one model run one at a time, in order; clients see their place in the queue. */
class QueueTest {
    @Test
    void submit_sixteenClients_eachGetsItsOwnResult() {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).model("tiny2", TestServers.tiny()).start()) {
            int clients = 16;
            ExecutorService threads = Executors.newFixedThreadPool(clients);
            CountDownLatch ready = new CountDownLatch(clients);
            List<Future<String>> results = new ArrayList<>();
            Set<String> ids = Collections.synchronizedSet(new HashSet<>());
            assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                for (int i = 0; i < clients; i++) {
                    int client = i;
                    results.add(threads.submit(() -> {
                        // Each client its own transport and key, as separate programs would have.
                        try (HttpTransport http = new HttpTransport(server.url(), client % 2 == 0 ? ALICE : BOB)) {
                            ready.countDown();
                            ready.await();
                            String model = client % 4 == 0 ? "tiny2" : "tiny";
                            StatusMessage received = http.submit(model, payload("sleep 10 result of client " + client));
                            ids.add(received.id());
                            List<StatusMessage> seen = new ArrayList<>();
                            StatusMessage completed = http.stream(received.id(), seen::add);
                            seen.forEach(message -> assertEquals(received.id(), message.id()));
                            String result = text(http.download(received.id(), 1 << 20));
                            assertEquals(result.length(), completed.size());
                            return result;
                        }
                    }));
                }
                for (int i = 0; i < clients; i++) {
                    assertEquals("result of client " + i, results.get(i).get());
                }
            });
            threads.shutdown();
            assertEquals(clients, ids.size());
            assertEquals(ids, new HashSet<>(executor.started));
        }
    }

    @Test
    void stream_positionsCountDown() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        // One job at a time: batching would take the three waiting jobs together, from QUEUED 2 straight to RUNNING.
        try (ModelServer server = TestServers.builder(executor).batchJobs(1).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            String first = http.submit("tiny", payload("wait first")).id();
            TestServers.awaitStatus(http, first, JobStatus.RUNNING);
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ids.add(http.submit("tiny", payload("echo job " + i)).id());
            }
            JsonObject tiny = http.status().getAsJsonArray("models").get(0).getAsJsonObject();
            assertEquals(3, tiny.get("queued").getAsInt());
            assertEquals(1, tiny.get("running").getAsInt());
            assertEquals(Integer.valueOf(1), http.poll(ids.get(1)).position());

            List<StatusMessage> seen = Collections.synchronizedList(new ArrayList<>());
            ExecutorService thread = Executors.newSingleThreadExecutor();
            Future<StatusMessage> last = thread.submit(() -> http.stream(ids.get(2), seen::add));
            TestServers.awaitSeen(seen, JobStatus.QUEUED, 1); // the stream started: its first status is the position
            executor.gate.countDown();
            assertEquals(JobStatus.COMPLETED, last.get(10, TimeUnit.SECONDS).status());
            thread.shutdown();
            // The positions of jobs that start within ModelQueue.POSITION_INTERVAL go out together: 1 or 0 may be skipped.
            assertCountsDown(seen, 2);
            List<String> order = new ArrayList<>(List.of(first));
            order.addAll(ids);
            assertEquals(order, executor.started);
        }
    }

    @Test
    void stream_manyJobsStartingAtOnce_positionsComeAtMostEveryInterval() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        int waiting = 12;
        try (ModelServer server = TestServers.builder(executor).batchJobs(1).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            TestServers.awaitStatus(http, http.submit("tiny", payload("wait first")).id(), JobStatus.RUNNING);
            String last = null;
            for (int i = 0; i < waiting; i++) {
                last = http.submit("tiny", payload("echo job " + i)).id();
            }
            List<StatusMessage> seen = Collections.synchronizedList(new ArrayList<>());
            String streamed = last;
            ExecutorService thread = Executors.newSingleThreadExecutor();
            Future<StatusMessage> end = thread.submit(() -> http.stream(streamed, seen::add));
            TestServers.awaitSeen(seen, JobStatus.QUEUED, 1); // the stream started: its first status is the position
            long opened = System.nanoTime();
            executor.gate.countDown(); // the jobs ahead of the last one start one after the other, each in a moment
            assertEquals(JobStatus.COMPLETED, end.get(10, TimeUnit.SECONDS).status());
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - opened);
            thread.shutdown();

            assertCountsDown(seen, waiting - 1);
            long queued = seen.stream().filter(m -> m.status() == JobStatus.QUEUED).count();
            // one position when queued, then at most one per interval that passed, and one for the interval under way:
            // not one per job that started ahead of it
            long most = 2 + millis / ModelQueue.POSITION_INTERVAL.toMillis();
            assertTrue(queued <= most, queued + " QUEUED events in " + millis + " ms, at most " + most + " expected: "
                    + seen);
        }
    }

    /**
     * {@code seen}, a job's statuses, starts with its position when it was queued, {@code first}, then tells smaller
     * positions only, then {@code RUNNING} and {@code COMPLETED}.
     */
    private static void assertCountsDown(List<StatusMessage> seen, int first) {
        List<String> trail = seen.stream()
                .map(m -> m.status() + (m.position() == null ? "" : " " + m.position()))
                .collect(Collectors.toList());
        assertEquals("QUEUED " + first, trail.get(0), trail.toString());
        assertEquals(List.of("RUNNING", "COMPLETED"), trail.subList(trail.size() - 2, trail.size()), trail.toString());
        int previous = first;
        for (StatusMessage message : seen.subList(1, seen.size() - 2)) {
            assertEquals(JobStatus.QUEUED, message.status(), trail.toString());
            assertTrue(message.position() < previous, trail.toString());
            previous = message.position();
        }
    }

    @Test
    void submit_queueFull_503() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).maxQueuedJobs(2).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            String running = http.submit("tiny", payload("wait a")).id();
            TestServers.awaitStatus(http, running, JobStatus.RUNNING);
            http.submit("tiny", payload("echo b"));
            http.submit("tiny", payload("echo c"));
            RemoteException e = assertThrows(RemoteException.class, () -> http.submit("tiny", payload("echo d")));
            assertTrue(e.getMessage().endsWith("answered HTTP 503 while submitting a job for model 'tiny': model 'tiny' "
                    + "already has 2 jobs waiting, the most it queues: try again later"), e.getMessage());
            executor.gate.countDown();
            assertEquals(JobStatus.COMPLETED, http.stream(running, m -> {}).status());
        }
    }

    @Test
    void submit_keyAtItsQuota_503ForThatKeyOnly() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).maxQueuedJobsPerKey(2).start();
                HttpTransport alice = new HttpTransport(server.url(), ALICE);
                HttpTransport bob = new HttpTransport(server.url(), BOB)) {
            String running = alice.submit("tiny", payload("wait a")).id();
            TestServers.awaitStatus(alice, running, JobStatus.RUNNING);
            alice.submit("tiny", payload("echo b"));
            RemoteException e = assertThrows(RemoteException.class, () -> alice.submit("tiny", payload("echo c")));
            assertTrue(e.getMessage().endsWith("answered HTTP 503 while submitting a job for model 'tiny': this API key "
                    + "already has 2 jobs waiting for or running on model 'tiny', the most one key may: wait for one to "
                    + "end"), e.getMessage());
            String bobs = bob.submit("tiny", payload("echo bob's")).id();
            executor.gate.countDown();
            assertEquals("bob's", text(bob.download(bob.stream(bobs, m -> {}).id(), 100)));
            assertEquals(JobStatus.COMPLETED, alice.stream(running, m -> {}).status());
            String again = alice.submit("tiny", payload("echo again")).id();
            assertEquals("again", text(alice.download(alice.stream(again, m -> {}).id(), 100)));
        }
    }

    @Test
    void submit_otherModelBusy_runsAtOnce() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).model("tiny2", TestServers.tiny()).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            String blocked = http.submit("tiny", payload("wait blocked")).id();
            TestServers.awaitStatus(http, blocked, JobStatus.RUNNING);
            String other = http.submit("tiny2", payload("echo free")).id();
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> http.stream(other, m -> {}));
            assertEquals("free", text(http.download(other, 100)));
            assertEquals(JobStatus.RUNNING, http.poll(blocked).status());
            executor.gate.countDown();
            assertEquals("blocked", text(http.download(http.stream(blocked, m -> {}).id(), 100)));
        }
    }
}
