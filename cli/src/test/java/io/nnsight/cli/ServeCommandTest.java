package io.nnsight.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code nnsight serve} run in this JVM on a free port, with real clients tracing on it over loopback. */
class ServeCommandTest {
    private static final String STORIES = MainTest.shared("models/stories260K").toString();
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";

    /** The command on a thread of its own, as {@code nnsight serve} runs until it is stopped. */
    private static final class Serving implements AutoCloseable {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final ServeCommand command;
        final Thread thread;
        volatile int status = -1;

        Serving(Map<String, String> environment, String... args) {
            CommandLine line = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true));
            command = line.getSubcommands().get("serve").getCommand();
            command.environment = environment::get;
            thread = new Thread(() -> status = line.execute(args), "nnsight-serve-test");
            thread.start();
        }

        /** The server's URL, once the command has printed that it serves. */
        String url() throws InterruptedException {
            String url = command.awaitUrl(Duration.ofSeconds(20));
            assertNotNull(url, "the server did not start; status " + status + ", errors: " + err);
            return url;
        }

        /** Stops the command as Ctrl-C does, and returns its exit status. */
        int stop() throws InterruptedException {
            command.stop();
            thread.join(Duration.ofSeconds(20).toMillis());
            assertTrue(!thread.isAlive(), "the command did not return after stop()");
            return status;
        }

        @Override
        public void close() throws InterruptedException {
            if (thread.isAlive()) {
                stop();
            }
        }
    }

    private record Run(int status, String out, String err) {}

    private static Run run(Map<String, String> environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine line = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true));
        ((ServeCommand) line.getSubcommands().get("serve").getCommand()).environment = environment::get;
        return new Run(line.execute(args), out.toString(), err.toString());
    }

    @Test
    void serve_withAKeyFile_tracesRemotelyAsLocally(@TempDir Path dir) throws Exception {
        Path keys = Files.writeString(dir.resolve("keys.txt"), "# the lab's keys\nsecret-1\nsecret-2\n");
        LanguageModel lm = LanguageModel.load(STORIES);
        try (Serving serving = new Serving(Map.of(), "serve", "--model", STORIES, "--port", "0", "--api-keys",
                keys.toString(), "--time-limit", "30s")) {
            String url = serving.url();
            assertEquals("nnsight: serving stories260K on " + url, serving.out.toString().strip());
            assertTrue(url.startsWith("http://127.0.0.1:"), url);

            Remote server = Remote.on(url).apiKey("secret-2").quiet();
            Tensor local = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
            Tensor served = lm.on(server).trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
            assertTrue(torch.allclose(local, served), "the served logits differ from the local ones");
            List<Long> tokens = lm.on(server).trace(PROMPT, tr -> {
                List<Long> top = new ArrayList<>();
                for (int layer = 3; layer < 5; layer++) {
                    top.add(lm.get("model.layers." + layer).output().select(1, -1).argmax().item_long());
                }
                return top;
            });
            assertEquals(2, tokens.size());

            RemoteException refused = assertThrows(RemoteException.class, 
                    () -> lm.on(Remote.on(url).apiKey("not-a-key").quiet()).trace(PROMPT, tr -> lm.get("lm_head").output()));
            assertTrue(refused.getMessage().contains("API key"), refused.getMessage());

            assertEquals(0, serving.stop());
            assertTrue(serving.out.toString().contains("nnsight: stopped serving on " + url), serving.out.toString());
        }
    }

    @Test
    void serve_withKeysFromTheEnvironment_acceptsEachOfThem() throws Exception {
        LanguageModel lm = LanguageModel.load(STORIES);
        try (Serving serving = new Serving(Map.of(ServeCommand.KEYS_VARIABLE, "first, second,"), "serve", "-m", STORIES,
                "-p", "0")) {
            String url = serving.url();
            for (String key : List.of("first", "second")) {
                long top = lm.on(Remote.on(url).apiKey(key).quiet()).trace(PROMPT,
                        tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long());
                assertEquals(338, top, "the reference's next token after the prompt");
            }
        }
    }

    @Test
    void serve_withoutKeys_refusesToStart_sayingHowToFixIt() {
        Run run = run(Map.of(), "serve", "--model", STORIES, "--port", "0");

        assertEquals(1, run.status());
        assertTrue(run.err().startsWith("nnsight: no API keys"), run.err());
        for (String fix : List.of("--api-keys FILE", "NNSIGHT_API_KEYS=", "--allow-anonymous")) {
            assertTrue(run.err().contains(fix), run.err());
        }
        assertEquals("", run.out());
    }

    @Test
    void serve_anonymousWhileTheEnvironmentListsKeys_refusesToStart() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "--model", STORIES, "--allow-anonymous");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("unset NNSIGHT_API_KEYS or leave out --allow-anonymous"), run.err());
    }

    @Test
    void serve_keyFileAndAnonymous_isAUsageError(@TempDir Path dir) throws IOException {
        Path keys = Files.writeString(dir.resolve("keys.txt"), "k\n");

        Run run = run(Map.of(), "serve", "-m", STORIES, "--api-keys", keys.toString(), "--allow-anonymous");

        assertEquals(2, run.status());
        assertTrue(run.err().contains("mutually exclusive"), run.err());
    }

    @Test
    void serve_twoModelsOfOneName_refusesToStart() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "-m", STORIES, "-p", "0");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("are both named 'stories260K'"), run.err());
    }

    @Test
    void serveRay_withoutRayInstalled_saysHowToInstallIt() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k", "PATH", "/nonexistent"), "serve", "-m", STORIES, "--ray");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("Ray is not installed here (no 'ray' command on the PATH)")
                && run.err().contains("pip install ray") && run.err().contains("--ray-jar"), run.err());
    }

    @Test
    void serveRay_withARayJarThatIsNotThere_namesIt() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "--ray", "127.0.0.1:6379",
                "--ray-jar", "/nonexistent/ray_dist.jar");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("Ray's Java runtime is not at /nonexistent/ray_dist.jar"), run.err());
    }

    @Test
    void serveRay_withoutReplicas_refusesToStart() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "--ray", "--replicas", "0");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("--replicas must be positive: 0"), run.err());
    }

    @Test
    void serve_batchOptions_reachTheServersStatus() throws Exception {
        LanguageModel lm = LanguageModel.load(STORIES);
        try (Serving serving = new Serving(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "-p", "0",
                "--batch-jobs", "8", "--batch-fairness", "2", "--batch-rows", "4", "--batch-tokens", "512",
                "--batch-max-request", "64K", "--batch-epoch-steps", "32");
                HttpTransport http = new HttpTransport(serving.url(), "k")) {
            long top = lm.on(Remote.on(serving.url()).apiKey("k").quiet()).trace(PROMPT,
                    tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long());
            assertEquals(338, top);
            JsonObject model = http.status().getAsJsonArray("models").get(0).getAsJsonObject();
            assertEquals(8, model.getAsJsonObject("batching").get("jobs").getAsInt(), model.toString());
            assertEquals(2, model.getAsJsonObject("batching").get("fairness").getAsInt(), model.toString());
            assertEquals(4, model.getAsJsonObject("batching").get("rows").getAsInt(), model.toString());
            assertEquals(512, model.getAsJsonObject("batching").get("tokens").getAsInt(), model.toString());
            assertEquals(64 << 10, model.getAsJsonObject("batching").get("maxRequest").getAsInt(), model.toString());
            assertEquals(32, model.getAsJsonObject("batching").get("epochSteps").getAsInt(), model.toString());
            assertEquals(1, model.getAsJsonObject("batch").getAsJsonObject("last").get("jobs").getAsInt(),
                    model.toString());
            assertEquals(1, model.getAsJsonObject("batch").get("solo").getAsInt(), model.toString());
        }
    }

    @Test
    void serve_batchRowsZero_refusesToStart() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "--batch-rows", "0");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("--batch-rows must be positive: 0"), run.err());
    }

    @Test
    void serve_batchEpochStepsZero_refusesToStart() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "--batch-epoch-steps", "0");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("--batch-epoch-steps must be positive: 0"), run.err());
    }

    @Test
    void serve_batchJobsZero_refusesToStart() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "--batch-jobs", "0");

        assertEquals(1, run.status());
        assertTrue(run.err().contains("--batch-jobs must be positive: 0"), run.err());
    }

    @Test
    void serve_help_describesTheBatchOptions() {
        Run run = run(Map.of(), "serve", "--help");

        assertEquals(0, run.status());
        String help = run.out().replaceAll("\\s+", " ");
        for (String option : List.of("--batch-jobs=N", "--batch-fairness=N", "(default: 16; 1 runs each job alone)",
                "(default: 4)", "--batch-rows=N", "--batch-tokens=N", "(default: 4096)", "--batch-max-request=SIZE",
                "(default: 1M)", "--batch-epoch-steps=N", "(default: 256)")) {
            assertTrue(help.contains(option), run.out());
        }
    }

    @Test
    void serve_badDuration_isAUsageError() {
        Run run = run(Map.of(ServeCommand.KEYS_VARIABLE, "k"), "serve", "-m", STORIES, "--time-limit", "soon");

        assertEquals(2, run.status());
        assertTrue(run.err().contains("'soon' is not a duration"), run.err());
    }
}
