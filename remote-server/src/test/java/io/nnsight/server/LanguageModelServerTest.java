package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.StatusMessage;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/** A real language model hosted by the server: traces run on its worker thread. */
class LanguageModelServerTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";

    /**
     * Runs the payload (a prompt) through the model and answers the top token of the last position and the
     * shape of the logits; a prompt of {@code !} makes the body fail.
     */
    private static final class TraceExecutor implements JobExecutor {
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());

        @Override
        public byte[] execute(NNsight model, byte[] request, JobContext context) throws JobFailedException {
            threads.add(Thread.currentThread().getName());
            String prompt = new String(request, StandardCharsets.UTF_8);
            try {
                String answer = model.trace(prompt, tr -> {
                    if (prompt.equals("!")) {
                        throw new IllegalArgumentException("the body refuses");
                    }
                    Tensor logits = model.get("lm_head").output();
                    context.log().accept("logits " + logits.size(0) + "x" + logits.size(1) + "x" + logits.size(2));
                    return logits.select(1, -1).argmax().item_long() + " " + logits.size(2);
                });
                return answer.getBytes(StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new JobFailedException(e.getMessage(), e);
            }
        }
    }

    @Test
    void trace_onHostedStories260K() {
        LanguageModel lm = LanguageModel.load(TestServers.shared("models/stories260K").toString());
        TraceExecutor executor = new TraceExecutor();
        try (ModelServer server = ModelServer.builder().model("stories260K", lm).executor(executor).port(0)
                        .apiKeys(Set.of(ALICE)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            JsonObject env = http.env();
            assertEquals("llama", env.getAsJsonObject("models").getAsJsonObject("stories260K").get("architecture").getAsString());

            StatusMessage received = http.submit("stories260K", Compression.compress(PROMPT.getBytes(StandardCharsets.UTF_8)));
            List<String> logs = new ArrayList<>();
            http.stream(received.id(), message -> {
                if (message.status() == JobStatus.LOG) {
                    logs.add(message.description());
                }
            });
            // The reference's top token after the prompt, and the vocabulary size.
            assertEquals("338 512", text(http.download(received.id(), 1 << 20)));
            assertEquals(List.of("logits 1x16x512"), logs);

            // A body that fails leaves the model usable for the next job.
            RemoteException e = assertThrows(RemoteException.class,
                    () -> http.stream(http.submit("stories260K", Compression.compress("!".getBytes(StandardCharsets.UTF_8))).id(), m -> {}));
            assertTrue(e.getMessage().endsWith("failed: the body refuses"), e.getMessage());
            String again = http.submit("stories260K", Compression.compress(PROMPT.getBytes(StandardCharsets.UTF_8))).id();
            http.stream(again, m -> {});
            assertEquals("338 512", text(http.download(again, 1 << 20)));
            assertEquals(Set.of("nnsight-model-stories260K"), new HashSet<>(executor.threads));
        }
        // The model is the caller's: it still traces after the server is gone.
        long top = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long());
        assertEquals(338, top);
    }
}
