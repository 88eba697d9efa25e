package io.nnsight.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;
import picocli.CommandLine.Spec;

/**
 * {@code nnsight jshell}: a JShell session ready to explore models, nnsight's answer to a notebook. The
 * snippets' JVM gets the nnsight command's class path, the nnsight agent (so plain Bytedeco modules and
 * {@code .source()} work) and the native-access flag; the usual imports are made, and {@code --model} loads a
 * language model as {@code lm}.
 */
@Command(name = "jshell", mixinStandardHelpOptions = true, customSynopsis = "nnsight jshell [-hV] [-m=DIR|ID] [jshell options and scripts]",
        description = {"Explore models interactively: JShell with nnsight's class path, the agent and the usual imports.",
            "With --model, the language model is loaded as lm. Other arguments go to jshell (a script file to run, -q, "
                + "...); /exit leaves."})
final class JshellCommand implements Callable<Integer> {
    /** The imports every session starts with. */
    static final List<String> IMPORTS = List.of(
            "import io.nnsight.*;",
            "import io.nnsight.lm.*;",
            "import io.nnsight.nn.*;",
            "import io.nnsight.remote.*;",
            "import org.bytedeco.pytorch.Scalar;",
            "import org.bytedeco.pytorch.Tensor;",
            "import org.bytedeco.pytorch.global.torch;",
            "import java.util.*;");

    @Option(names = {"-m", "--model"}, paramLabel = "DIR|ID",
            description = "A Hugging Face model folder or hub repository id to load as lm.")
    String model;

    /** What the command does not know goes to jshell: its options ({@code -q}, {@code --feedback}) and scripts. */
    @Unmatched
    List<String> jshellArguments = new ArrayList<>();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Path startup = Files.createTempFile("nnsight", ".jsh");
        try {
            Files.writeString(startup, startup(model));
            return jdk.jshell.tool.JavaShellToolBuilder.builder().start(arguments(startup).toArray(new String[0]));
        } finally {
            Files.deleteIfExists(startup);
        }
    }

    /** jshell's arguments: the class path, the snippets' JVM's flags, the startup snippets, then the user's. */
    List<String> arguments(Path startup) {
        List<String> arguments = new ArrayList<>(List.of("--class-path", String.join(java.io.File.pathSeparator, classPath()),
                "-R--enable-native-access=ALL-UNNAMED", "--startup", "DEFAULT", "--startup", startup.toString()));
        Path agent = agentJar();
        if (agent != null) {
            arguments.add("-R-javaagent:" + agent);
        } else {
            spec.commandLine().getErr().println("nnsight: no nnsight-agent.jar beside the nnsight command (or "
                    + "-Dnnsight.agent.jar): plain Bytedeco modules and .source() need it; the rest works without");
        }
        arguments.addAll(jshellArguments);
        return arguments;
    }

    /** The startup snippets: the imports, and with a model, loading it as {@code lm}. */
    static String startup(String model) {
        StringBuilder snippets = new StringBuilder(String.join("\n", IMPORTS)).append('\n');
        if (model != null) {
            String literal = '"' + model.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
            snippets.append("LanguageModel lm = LanguageModel.load(").append(literal).append(");\n")
                    .append("System.out.println(\"lm: \" + lm.key() + \" (\" + lm.architecture() + \", \" + lm.layerCount()"
                            + " + \" layers). Try: lm.trace(\\\"Hello\\\", tr -> lm.get(\\\"lm_head\\\").output())\");\n");
        }
        return snippets.toString();
    }

    /**
     * The class path of this command: the JVM's, with the libraries a jar on it names in its manifest (the
     * nnsight.jar names {@code lib/*} so; jshell needs them spelled out).
     */
    static List<String> classPath() {
        Set<String> entries = new LinkedHashSet<>();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            entries.add(entry);
            Path path = Path.of(entry);
            if (entry.endsWith(".jar") && Files.isRegularFile(path)) {
                try (JarFile jar = new JarFile(path.toFile())) {
                    Manifest manifest = jar.getManifest();
                    String named = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
                    if (named != null) {
                        for (String library : named.trim().split("\\s+")) {
                            entries.add(path.toAbsolutePath().getParent().resolve(library).toString());
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read " + path, e);
                }
            }
        }
        return List.copyOf(entries);
    }

    /** The agent: {@code -Dnnsight.agent.jar}, else {@code nnsight-agent.jar} beside the jar of this command. */
    static Path agentJar() {
        String configured = System.getProperty("nnsight.agent.jar");
        if (configured != null) {
            return Path.of(configured);
        }
        try {
            Path location = Path.of(JshellCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path beside = location.toAbsolutePath().getParent().resolve("nnsight-agent.jar");
            return Files.isRegularFile(beside) ? beside : null;
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return null;
        }
    }
}
