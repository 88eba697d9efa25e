package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An error in a trace, as the launchers users start programs with print it: {@code java Foo.java} (the source
 * launcher, which cuts its own frames off the bottom of an uncaught error by counting them) and {@code jshell}.
 * The stack trace must still show the user's lines, with the thread engine (no agent) and with the agent.
 */
class LaunchersTest {
    /** The programs pick their engines themselves: once is enough, not again in the threads engine's run. */
    @BeforeEach
    void onceOnly() {
        assumeTrue(System.getProperty("nnsight.engine") == null, "the launched programs choose their own engine");
    }

    private static final String PROGRAM = String.join("\n",
            "import io.nnsight.NNsight;",
            "import io.nnsight.nn.Mlp;",
            "import org.bytedeco.pytorch.global.torch;",
            "",
            "public class Fails {",
            "    public static void main(String[] args) {",
            "        NNsight model = NNsight.wrap(new Mlp(8, 2, 3));",
            "        if (args[0].equals(\"body\")) {",
            "            model.trace(torch.ones(1, 8), tr -> {",
            "                throw new IllegalStateException(\"thrown by the body\");",   // line 10
            "            });",
            "        } else {",
            "            model.trace(torch.ones(1, 5), tr -> model.get(\"head\").output());", // line 13
            "        }",
            "    }",
            "}",
            "");

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void sourceLauncher_showsTheBodysLine_andMain(boolean agent, @TempDir Path dir) throws Exception {
        Path source = Files.writeString(dir.resolve("Fails.java"), PROGRAM);

        String out = run(dir, java(agent, source.toString(), "body"));

        assertTrue(out.contains("java.lang.IllegalStateException: thrown by the body"), out);
        assertTrue(out.contains("(Fails.java:10)"), out);
        assertTrue(out.contains("at Fails.main(Fails.java:9)"), out);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void sourceLauncher_showsMain_underAModelsError(boolean agent, @TempDir Path dir) throws Exception {
        Path source = Files.writeString(dir.resolve("Fails.java"), PROGRAM);

        String out = run(dir, java(agent, source.toString(), "model"));

        assertTrue(out.contains("mat1 and mat2 shapes cannot be multiplied"), out);
        assertTrue(out.contains("at io.nnsight.nn.Linear"), out);
        assertTrue(out.contains("at Fails.main(Fails.java:13)"), out);
    }

    @org.junit.jupiter.api.Test
    void loadingALanguageModel_logsNoWarning_onAMachineWithoutGpu(@TempDir Path dir) throws Exception {
        // DJL warned "Failed to detect GPU count" twice where a CUDA runtime is installed without a driver.
        Path source = Files.writeString(dir.resolve("Load.java"), String.join("\n",
                "public class Load {",
                "    public static void main(String[] args) {",
                "        io.nnsight.lm.LanguageModel lm = io.nnsight.lm.LanguageModel.load(args[0]);",
                "        System.out.println(\"generated\" + lm.generate(\"Once upon a time\", io.nnsight.lm.Generation.maxNewTokens(2)).texts());",
                "    }",
                "}", ""));

        String out = run(dir, java(false, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", source.toString(),
                SharedFiles.path("models/stories260K").toString()));

        assertTrue(out.contains("generated[, there]"), out);
        assertTrue(!out.contains("WARN") && !out.contains("GPU"), out);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void jshell_showsTheSnippetsLines(boolean agent, @TempDir Path dir) throws Exception {
        String snippets = String.join("\n",
                "import io.nnsight.NNsight;",
                "import io.nnsight.nn.Mlp;",
                "import org.bytedeco.pytorch.global.torch;",
                "NNsight model = NNsight.wrap(new Mlp(8, 2, 3));",
                "void fromBody() { model.trace(torch.ones(1, 8), tr -> { throw new IllegalStateException(\"thrown by the body\"); }); }",
                "fromBody();",
                "void fromModel() { model.trace(torch.ones(1, 5), tr -> model.get(\"head\").output()); }",
                "fromModel();",
                "/exit", "");
        Path script = Files.writeString(dir.resolve("fails.jsh"), snippets);
        List<String> command = new ArrayList<>(List.of(tool("jshell"), "-q", "--class-path",
                System.getProperty("java.class.path"), "-R--enable-native-access=ALL-UNNAMED"));
        if (agent) {
            command.add("-R-javaagent:" + System.getProperty("nnsight.agent.jar"));
        }
        command.add(script.toString());

        String out = run(dir, command);

        assertTrue(out.contains("Exception java.lang.IllegalStateException: thrown by the body"), out);
        assertTrue(out.matches("(?s).*at lambda\\$fromBody\\$\\S* \\(#\\d+:1\\)\\s+at fromBody \\(#\\d+:1\\)\\s+at \\(#\\d+:1\\).*"), out);
        assertTrue(out.matches("(?s).*at Mlp.forward \\(Mlp.java:\\d+\\)\\s+at fromModel \\(#\\d+:1\\)\\s+at \\(#\\d+:1\\).*"), out);
    }

    private static List<String> java(boolean agent, String... args) {
        List<String> command = new ArrayList<>(List.of(tool("java"), "--enable-native-access=ALL-UNNAMED"));
        if (agent) {
            command.add("-javaagent:" + System.getProperty("nnsight.agent.jar"));
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path")));
        command.addAll(List.of(args));
        return command;
    }

    private static String tool(String name) {
        return Path.of(System.getProperty("java.home"), "bin", name).toString();
    }

    private static String run(Path dir, List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        process.getOutputStream().close();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        return new String(output, StandardCharsets.UTF_8);
    }
}
