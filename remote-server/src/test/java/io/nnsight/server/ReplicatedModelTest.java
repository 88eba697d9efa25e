package io.nnsight.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * A model hosted as replicas ({@link ModelServer.Builder#replicated}): the server runs as many jobs at once as the
 * replicas can, one per replica, and shows them in {@code /status}. The replicas here are two copies of
 * stories260K in this JVM, each with its own sandboxed executor (on a cluster they are Ray actors: {@code
 * RayServeTest} in integration-tests).
 */
class ReplicatedModelTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";

    /** Copies of a model in this JVM; a job takes an idle one. */
    private static final class InProcessReplicas implements ModelReplicas {
        private final LinkedBlockingQueue<Integer> idle = new LinkedBlockingQueue<>();
        private final List<LanguageModel> models = new ArrayList<>();
        private final List<SandboxedExecutor> executors = new ArrayList<>();
        private final List<AtomicInteger> jobs = new ArrayList<>();
        final AtomicInteger mostAtOnce = new AtomicInteger();
        private final AtomicInteger running = new AtomicInteger();
        boolean closed;

        InProcessReplicas(String folder, int count) {
            for (int i = 0; i < count; i++) {
                models.add(LanguageModel.load(folder));
                executors.add(new SandboxedExecutor());
                jobs.add(new AtomicInteger());
                idle.add(i);
            }
        }

        @Override
        public int capacity() {
            return models.size();
        }

        @Override
        public byte[] execute(byte[] request, JobContext context) throws JobFailedException {
            int replica = idle.remove(); // the server runs at most capacity() jobs at once: one is idle
            mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
            try {
                jobs.get(replica).incrementAndGet();
                return executors.get(replica).execute(models.get(replica), request, context);
            } finally {
                running.decrementAndGet();
                idle.add(replica);
            }
        }

        @Override
        public List<Map<String, Object>> status() {
            List<Map<String, Object>> status = new ArrayList<>();
            for (int i = 0; i < models.size(); i++) {
                status.add(Map.of("replica", i, "jobs", jobs.get(i).get()));
            }
            return status;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void replicated_runsAJobPerReplicaAtOnce_withTheResultsOfTheModel_andListsTheReplicas() throws Exception {
        String folder = TestServers.shared("models/stories260K").toString();
        LanguageModel lm = LanguageModel.load(folder);
        Tensor expected = lm.trace(PROMPT, tr -> lm.get("lm_head").output());
        InProcessReplicas replicas = new InProcessReplicas(folder, 2);
        LanguageModel description = LanguageModel.load(folder, LanguageModel.Options.defaults().device("meta"));
        ExecutorService clients = Executors.newFixedThreadPool(8);
        try (ModelServer server = ModelServer.builder().replicated(description.key(), description, replicas).port(0)
                .apiKeys(Set.of(TestServers.ALICE)).start()) {
            Remote remote = Remote.on(server.url()).apiKey(TestServers.ALICE).quiet();
            List<Future<Tensor>> results = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                results.add(clients.submit(() -> lm.on(remote).trace(PROMPT, tr -> lm.get("lm_head").output())));
            }
            for (Future<Tensor> result : results) {
                assertTrue(torch.equal(expected, result.get()));
            }

            assertEquals(2, replicas.mostAtOnce.get(), "two jobs ran at once, one on each replica");
            try (HttpTransport http = new HttpTransport(server.url(), TestServers.ALICE)) {
                JsonObject model = http.status().getAsJsonArray("models").get(0).getAsJsonObject();
                assertEquals(2, model.getAsJsonArray("replicas").size(), model.toString());
                int done = 0;
                for (var replica : model.getAsJsonArray("replicas")) {
                    int jobs = replica.getAsJsonObject().get("jobs").getAsInt();
                    assertTrue(jobs > 0, "every replica ran jobs: " + model);
                    done += jobs;
                }
                assertEquals(32, done);
            }
        } finally {
            clients.shutdownNow();
        }
        assertTrue(replicas.closed, "the server closes the replicas it was given when it stops");
    }
}
