package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.nn.Mlp;
import io.nnsight.server.ModelServer;
import java.io.IOException;
import java.io.StringWriter;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Java snippet of {@code README.md} and {@code docs/*.md}, extracted from the markdown, compiled and run,
 * so that none can rot. A snippet is the body of a method of a class with the imports of its file's import-only
 * block (else the README's); the names snippets use without declaring them are given: {@code lm} (stories260K),
 * {@code model} (the README's 12-layer MLP) and {@code x} (its input). Paths under {@code ../shared/} resolve from
 * the project's root, as the README's commands do, and {@code http://127.0.0.1:8642} (or {@code localhost}) is a
 * model server that this test starts, hosting stories260K, that takes any key. A snippet after the comment
 * {@code <!-- snippet: compile only ... -->} is compiled but not run (it downloads from the hub); one after
 * {@code <!-- snippet: sketch ... -->} is an outline with elided parts (a class to write), neither compiled nor run.
 */
class DocSnippetsTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static ModelServer server;

    /** A Java block of a markdown file. */
    private record Snippet(Path file, int line, String code, boolean run) {
        String name() {
            return ROOT.relativize(file) + ":" + line;
        }
    }

    @BeforeAll
    static void serve() {
        LanguageModel hosted = LanguageModel.load(SharedFiles.path("models/stories260K").toString());
        server = ModelServer.builder().model(hosted.key(), hosted).port(0).allowAnonymous().start();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @TestFactory
    Stream<DynamicTest> everyJavaSnippet_compilesAndRuns(@TempDir Path classes) throws IOException {
        List<Path> files = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            docs.filter(file -> file.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        String readmeImports = imports(ROOT.resolve("README.md"));
        assertFalse(readmeImports.isEmpty(), "the README shows the imports its snippets need");
        List<DynamicTest> tests = new ArrayList<>();
        for (Path file : files) {
            String own = imports(file);
            for (Snippet snippet : snippets(file)) {
                String imports = own.isEmpty() ? readmeImports : own;
                tests.add(DynamicTest.dynamicTest(snippet.name(), () -> compileAndRun(snippet, imports, classes)));
            }
        }
        assertTrue(tests.size() >= 8, "found only " + tests.size() + " snippets");
        return tests.stream();
    }

    private static void compileAndRun(Snippet snippet, String imports, Path classes) throws Exception {
        String name = "Snippet" + Math.abs(snippet.name().hashCode());
        String code = snippet.code()
                .replace("\"../shared/", "\"" + SharedFiles.path("models").getParent() + "/")
                .replace("http://127.0.0.1:8642", server.url())
                .replace("http://localhost:8642", server.url());
        String source = imports + "\n"
                + "public final class " + name + " {\n"
                + "    public static LanguageModel lm;\n"
                + "    public static NNsight model;\n"
                + "    public static Tensor x;\n"
                + "    public static void run() throws Exception {\n"
                + code + "\n"
                + "    }\n"
                + "}\n";
        Path dir = Files.createDirectories(classes.resolve(name));
        Path file = Files.writeString(dir.resolve(name + ".java"), source, StandardCharsets.UTF_8);
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        boolean compiled = compiler.getTask(diagnostics, null, null, List.of("-proc:none", "-d", dir.toString(),
                "-classpath", System.getProperty("java.class.path")), null,
                compiler.getStandardFileManager(null, null, StandardCharsets.UTF_8).getJavaFileObjects(file.toFile()))
                .call();
        if (!compiled) {
            fail(snippet.name() + " does not compile:\n" + diagnostics + "\n" + source);
        }
        if (!snippet.run()) {
            return;
        }
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, DocSnippetsTest.class.getClassLoader())) {
            Class<?> type = loader.loadClass(name);
            torch.manual_seed(0);
            type.getField("lm").set(null, LanguageModel.load(SharedFiles.path("models/stories260K").toString()));
            NNsight model = NNsight.wrap(new Mlp(64, 12, 10));
            type.getField("model").set(null, model);
            Tensor x = torch.randn(1, 64);
            type.getField("x").set(null, x);
            type.getMethod("run").invoke(null);
        } catch (InvocationTargetException e) {
            throw new AssertionError(snippet.name() + " failed:\n" + snippet.code(), e.getCause());
        }
    }

    /** The imports of a block that holds only imports (and comments), or "" when the file has none. */
    private static String imports(Path file) throws IOException {
        for (Snippet block : blocks(file)) {
            if (isImports(block.code())) {
                return block.code();
            }
        }
        return "";
    }

    /** The {@code ```java} blocks of a markdown file that are code to run. */
    private static List<Snippet> snippets(Path file) throws IOException {
        List<Snippet> snippets = new ArrayList<>(blocks(file));
        snippets.removeIf(block -> isImports(block.code()));
        return snippets;
    }

    private static boolean isImports(String code) {
        return code.lines().allMatch(line -> line.isBlank() || line.startsWith("import "));
    }

    /** The {@code ```java} blocks of a markdown file. */
    private static List<Snippet> blocks(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<Snippet> snippets = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).strip().equals("```java")) {
                continue;
            }
            int start = i + 1;
            int end = start;
            while (!lines.get(end).strip().equals("```")) {
                end++;
            }
            String before = i > 0 ? lines.get(i - 1) : "";
            String code = String.join("\n", lines.subList(start, end));
            if (!before.contains("<!-- snippet: sketch")) {
                snippets.add(new Snippet(file, start, code, !before.contains("<!-- snippet: compile only")));
            }
            i = end;
        }
        return snippets;
    }
}
