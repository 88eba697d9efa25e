package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The built {@code nnsight.jar} as the {@code ./nnsight} script runs it, writing to a pipe. */
class CommandTest {
    private static final String STORIES = SharedFiles.path("models/stories260K").toString();

    /** The command picks its own engine: once is enough, not again in the threads engine's run. */
    @BeforeEach
    void onceOnly() {
        assumeTrue(System.getProperty("nnsight.engine") == null, "the command chooses its own engine");
    }

    @Test
    void logitLens_withoutPng_printsTheTableToAPipe() throws Exception {
        String out = nnsight("", "logit-lens", "--model", STORIES, "-p", "Lily and Tom");

        assertTrue(out.startsWith("layer  <s>"), out);
        assertEquals(6, out.strip().split("\n").length, out);
    }

    @Test
    void jshell_hasTheApi_theModel_andTheAgent() throws Exception {
        String snippets = String.join("\n",
                "Tensor logits = lm.trace(\"Once upon a time\", tr -> lm.get(\"lm_head\").output());",
                "System.out.println(\"shape \" + Arrays.toString(Tensors.shape(logits)));",
                "System.out.println(lm.get(\"model.layers.0.self_attn\").source());",
                "/exit", "");

        String out = nnsight(snippets, "jshell", "--model", STORIES);

        assertTrue(out.contains("lm: stories260K (llama, 5 layers)"), out);
        assertTrue(out.contains("shape [1, 5, 512]"), out);
        assertTrue(out.contains("fused_0"), out); // .source() works: the agent mapped the attention's code
    }

    private static String nnsight(String input, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", ServeProcessTest.cliJar().toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write(input.getBytes(StandardCharsets.UTF_8));
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), output);
        assertEquals(0, process.exitValue(), output);
        return output;
    }
}
