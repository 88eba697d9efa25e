package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A server closed while clients wait: each gets a clear error at once, none hangs. */
class ShutdownTest {
    @Test
    void close_queuedAndRunningJobs_everyClientGetsAnError() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        ModelServer server = TestServers.builder(executor).model("tiny2", TestServers.tiny()).start();
        try (HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            List<String> ids = new ArrayList<>();
            ids.add(http.submit("tiny", payload("wait running")).id());
            ids.add(http.submit("tiny2", payload("stuck 3000")).id()); // code that ignores interrupts
            TestServers.awaitStatus(http, ids.get(0), JobStatus.RUNNING);
            TestServers.awaitStatus(http, ids.get(1), JobStatus.RUNNING);
            for (int i = 0; i < 3; i++) {
                ids.add(http.submit("tiny", payload("echo queued " + i)).id());
            }
            CountDownLatch streaming = new CountDownLatch(ids.size());
            ExecutorService threads = Executors.newFixedThreadPool(ids.size()); // one thread per client
            List<CompletableFuture<StatusMessage>> clients = new ArrayList<>();
            List<StatusMessage> lastSeen = Collections.synchronizedList(new ArrayList<>());
            for (String id : ids) {
                clients.add(CompletableFuture.supplyAsync(() -> http.stream(id, message -> {
                    if (message.terminal()) {
                        lastSeen.add(message);
                    } else {
                        streaming.countDown();
                    }
                }), threads));
            }
            assertTrue(streaming.await(10, TimeUnit.SECONDS), "every client follows its job");

            assertTimeoutPreemptively(Duration.ofSeconds(10), server::close);
            assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
                for (CompletableFuture<StatusMessage> client : clients) {
                    ExecutionException e = assertThrows(ExecutionException.class, client::get);
                    assertTrue(e.getCause() instanceof RemoteException, e.getCause().toString());
                    assertTrue(e.getCause().getMessage().endsWith("failed: the server is shutting down"),
                            e.getCause().getMessage());
                }
            });
            assertEquals(ids.size(), lastSeen.size());
            threads.shutdown();

            // Afterwards: nothing listens.
            RemoteException gone = assertThrows(RemoteException.class, () -> http.poll(ids.get(0)));
            assertTrue(gone.getMessage().startsWith("cannot reach the nnsight server at " + server.url()), gone.getMessage());
        } finally {
            server.close();
        }
    }

    @Test
    void close_twice_noop() {
        ModelServer server = TestServers.builder(new ScriptExecutor()).start();
        server.close();
        server.close();
    }

    @Test
    void start_portTaken_clearError() {
        try (ModelServer first = TestServers.builder(new ScriptExecutor()).start()) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> TestServers.builder(new ScriptExecutor()).port(first.port()).start());
            assertTrue(e.getMessage().startsWith("cannot listen on 127.0.0.1:" + first.port()), e.getMessage());
        }
    }
}
