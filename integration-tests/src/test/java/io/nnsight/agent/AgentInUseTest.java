package io.nnsight.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.examples.SharedFiles;
import io.nnsight.internal.engine.Engine;
import io.nnsight.spi.CapturedClasses;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent as users run it: {@code -javaagent} on these tests' JVM, and on a {@code java Foo.java} program
 * and a {@code jshell} session started here.
 */
class AgentInUseTest {
    /** A plain Bytedeco model, written as for libtorch alone. */
    public static class Net extends Module {
        public final LinearImpl fc1 = register_module("fc1", new LinearImpl(5, 10));
        public final LinearImpl fc2 = register_module("fc2", new LinearImpl(10, 2));

        public Tensor forward(Tensor x) {
            return fc2.forward(torch.relu(fc1.forward(x)));
        }
    }

    @Test
    void plainBytedecoModel_isTraceable_withContinuations() {
        Net net = new Net();
        NNsight model = NNsight.wrap(net);
        Tensor x = torch.rand(1, 5);

        Tensor hidden = model.trace(x, tr -> model.get("fc1").output());

        assertTrue(torch.allclose(net.fc1.forward(x), hidden));
        String expected = Runtime.version().feature() < 21 || "threads".equals(System.getProperty("nnsight.engine")) ? "threads" : "continuations";
        assertEquals(expected, Engine.current().name(), String.valueOf(io.nnsight.internal.engine.ContinuationEngine.unavailableReason()));
        assertTrue(CapturedClasses.of(Net.class).isPresent(), "the test's own class was not captured");
    }

    private static final String PROGRAM = String.join("\n",
            "import io.nnsight.NNsight;",
            "import io.nnsight.spi.CapturedClasses;",
            "import org.bytedeco.pytorch.*;",
            "import static org.bytedeco.pytorch.global.torch.*;",
            "public class Demo {",
            "    public static class Net extends org.bytedeco.pytorch.Module {",
            "        final LinearImpl fc = register_module(\"fc\", new LinearImpl(3, 2));",
            "        public Tensor forward(Tensor x) { return fc.forward(x).relu(); }",
            "    }",
            "    public static void main(String[] args) {",
            "        Net net = new Net();",
            "        NNsight model = NNsight.wrap(net);",
            "        Tensor x = ones(1, 3);",
            "        Tensor fc = model.trace(x, tr -> model.get(\"fc\").output());",
            "        System.out.println(\"traced \" + allclose(fc, net.fc.forward(x)));",
            "        System.out.println(\"captured \" + CapturedClasses.of(Net.class).isPresent());",
            "    }",
            "}",
            "");

    @Test
    void singleFileProgram_withTheAgent_tracesItsModel(@TempDir Path dir) throws Exception {
        Path source = Files.writeString(dir.resolve("Demo.java"), PROGRAM);

        String out = run(dir, List.of(javaHome("java"), "--enable-native-access=ALL-UNNAMED",
                "-javaagent:" + AgentJarTest.jar(), "-cp", System.getProperty("java.class.path"), source.toString()));

        assertTrue(out.contains("traced true"), out);
        assertTrue(out.contains("captured true"), out);
    }

    @Test
    void jshellSession_withTheAgent_tracesASnippetsModel(@TempDir Path dir) throws Exception {
        String snippets = String.join("\n",
                "import io.nnsight.NNsight;",
                "import org.bytedeco.pytorch.*;",
                "import static org.bytedeco.pytorch.global.torch.*;",
                "class Net extends org.bytedeco.pytorch.Module { final LinearImpl fc = register_module(\"fc\", new LinearImpl(3, 2)); "
                        + "public Tensor forward(Tensor x) { return fc.forward(x).relu(); } }",
                "Net net = new Net();",
                "NNsight model = NNsight.wrap(net);",
                "Tensor x = ones(1, 3);",
                "Tensor fc = model.trace(x, tr -> model.get(\"fc\").output());",
                "System.out.println(\"jshell traced \" + allclose(fc, net.fc.forward(x)));",
                "/exit", "");
        Path script = Files.writeString(dir.resolve("session.jsh"), snippets);

        String out = run(dir, List.of(javaHome("jshell"), "-q", "--class-path", System.getProperty("java.class.path"),
                "-R-javaagent:" + AgentJarTest.jar(), "-R--enable-native-access=ALL-UNNAMED", script.toString()));

        assertTrue(out.contains("jshell traced true"), out);
    }

    @Test
    void jshellSession_shipsItsSnippetsToRun_asAServerWould(@TempDir Path dir) throws Exception {
        String stories = SharedFiles.path("models/stories260K").toString();
        String snippets = String.join("\n",
                "import io.nnsight.lm.LanguageModel;",
                "import io.nnsight.remote.Remote;",
                "import org.bytedeco.pytorch.*;",
                "LanguageModel lm = LanguageModel.load(\"" + stories + "\");",
                "long top(Tensor logits) { return logits.select(1, -1).argmax().item_long(); }",
                "String prompt = \"Once upon a time, there was a little girl named Lily.\";",
                "long local = lm.trace(prompt, tr -> top(lm.get(\"lm_head\").output()));",
                "long shipped = lm.on(Remote.local()).trace(prompt, tr -> top(lm.get(\"lm_head\").output()));",
                "System.out.println(\"jshell shipped \" + shipped + \" local \" + local);",
                "/exit", "");
        Path script = Files.writeString(dir.resolve("remote.jsh"), snippets);

        String out = run(dir, List.of(javaHome("jshell"), "-q", "--class-path", System.getProperty("java.class.path"),
                "-R-javaagent:" + AgentJarTest.jar(), "-R--enable-native-access=ALL-UNNAMED", script.toString()));

        assertTrue(out.contains("jshell shipped 338 local 338"), out);
    }

    private static String javaHome(String tool) {
        return Path.of(System.getProperty("java.home"), "bin", tool).toString();
    }

    private static String run(Path dir, List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(new ArrayList<>(command)).directory(dir.toFile()).redirectErrorStream(true).start();
        process.getOutputStream().close();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
}
