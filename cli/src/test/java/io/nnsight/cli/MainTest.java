package io.nnsight.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The nnsight command, run with real models from {@code ../shared}. */
class MainTest {
    private static final String STORIES = shared("models/stories260K").toString();

    private record Run(int status, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(status, out.toString(), err.toString());
    }

    static Path shared(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir.resolve("shared").resolve(relative))) {
                return dir.resolve("shared").resolve(relative);
            }
        }
        throw new IllegalStateException("shared/" + relative + " not found beside the project");
    }

    @Test
    void demo_withoutAModel_runsTheOfflineTour() {
        Run run = run("demo");

        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().startsWith("The model (12 blocks, then a head):\n  layers.0: Sequential((0): Linear("), run.out());
        assertTrue(run.out().contains("\n  layers.11: Sequential("), run.out());
        assertTrue(run.out().contains("layers.5 output: shape [1, 64]"), run.out());
        assertTrue(run.out().matches("(?s).*prediction after each block: \\[(\\d+, ){11}\\d+].*"), run.out());
        assertTrue(run.out().contains("patched from the first"), run.out());
    }

    @Test
    void demo_withAModel_generates_lensesAndPatches() {
        Run run = run("demo", "--model", STORIES);

        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("She loved to play outside"), run.out());
        assertTrue(run.out().contains("Logit lens"), run.out());
        assertTrue(run.out().contains("patching layer 4 -> 'She'"), run.out());
    }

    @Test
    void generate_greedy_printsTheReferenceContinuation() {
        Run run = run("generate", "--model", STORIES, "--prompt", "Once upon a time", "--max-new-tokens", "20");

        assertEquals(0, run.status(), run.err());
        assertEquals("Once upon a time, there was a little girl named Lily. She loved to play outsid", run.out().strip());
        assertEquals("", run.err(), "no progress where the output is not a terminal");
    }

    @Test
    void generate_printsEachTokenAsItComes() {
        List<String> flushed = new ArrayList<>();
        StringWriter text = new StringWriter();
        PrintWriter out = new PrintWriter(new java.io.Writer() {
            @Override
            public void write(char[] chars, int offset, int length) {
                text.write(chars, offset, length);
            }

            @Override
            public void flush() {
                flushed.add(text.toString());
            }

            @Override
            public void close() {}
        });

        int status = Main.execute(new String[] {"generate", "--model", STORIES, "-p", "Once upon a time", "-n", "5"}, out,
                new PrintWriter(new StringWriter()));

        assertEquals(0, status);
        assertTrue(flushed.containsAll(List.of("Once upon a time", "Once upon a time,", "Once upon a time, there",
                "Once upon a time, there was", "Once upon a time, there was a", "Once upon a time, there was a little")),
                flushed.toString());
    }

    @Test
    void generate_seedWithoutTemperature_saysSamplingNeedsIt() {
        Run run = run("generate", "--model", STORIES, "--seed", "1");

        assertEquals(2, run.status(), run.out());
        assertTrue(run.err().startsWith("--seed applies to sampling, which --temperature turns on: add --temperature 1"),
                run.err());
    }

    @Test
    void generate_mistakes_areNamedByTheOptions(@TempDir Path dir) throws IOException {
        assertTrue(run("generate", "--model", STORIES, "-n", "0").err().startsWith("-n/--max-new-tokens must be at least 1"));
        assertTrue(run("generate", "--model", STORIES, "--temperature", "0").err()
                .startsWith("--temperature must be above 0, got 0.0 (for the most likely token at each step, use --greedy)"));
        assertTrue(run("generate", "--model", STORIES, "--temperature", "1", "--greedy").err()
                .startsWith("--greedy picks the most likely token and --temperature samples"));
        assertTrue(run("generate", "--model", STORIES, "--tokenizer", dir.resolve("none.json").toString()).err()
                .startsWith("nnsight: --tokenizer " + dir.resolve("none.json") + ": no such file"));
        Path folder = Files.createDirectory(dir.resolve("model"));
        for (String file : List.of("config.json", "model.safetensors")) {
            Files.copy(shared("models/stories260K/" + file), folder.resolve(file));
        }
        assertEquals("nnsight: " + folder + " has no tokenizer.json: give one with --tokenizer FILE",
                run("generate", "--model", folder.toString()).err().strip());
        assertEquals(0, run("generate", "--model", folder.toString(), "--tokenizer",
                shared("models/stories260K/tokenizer.json").toString(), "-n", "1").status());
    }

    @Test
    void generate_sampledWithASeed_isReproducible() {
        String[] args = {"generate", "--model", STORIES, "--temperature", "0.9", "--seed", "11", "-n", "15"};

        Run first = run(args);
        Run second = run(args);

        assertEquals(0, first.status(), first.err());
        assertEquals(first.out(), second.out());
        assertTrue(first.out().length() > 10, first.out());
    }

    @Test
    void attribution_printsNnsightsAttributions_andDrawsAPng(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("attribution.png");

        Run run = run("attribution", "--model", STORIES, "--prompt", "Lily and Tom went to the park. Tom gave the ball "
                + "to", "--png", png.toString());

        assertEquals(0, run.status(), run.err());
        String[] lines = run.out().split("\n");
        assertTrue(lines[0].startsWith("attribution of logit('"), run.out());
        assertTrue(lines[1].startsWith("layer  <s>"), run.out());
        // reference-extras.json: the attribution at the last position of layers 0 and 2 is 1.64525 and 1.94936
        assertTrue(lines[2].startsWith("0 ") && lines[2].endsWith(" 1.645"), lines[2]);
        assertTrue(lines[4].startsWith("2 ") && lines[4].endsWith(" 1.949"), lines[4]);
        byte[] header = java.util.Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, header);
    }

    @Test
    void logitLens_printsATable_andDrawsAPng(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("lens.png");

        Run run = run("logit-lens", "--model", STORIES, "--prompt", "Lily and Tom", "--png", png.toString());

        assertEquals(0, run.status(), run.err());
        String[] lines = run.out().split("\n");
        assertTrue(lines[0].matches("layer +<s> +␣Lily +␣and +␣T +om *"), run.out());
        assertEquals("4", lines[5].split("\\s+")[0], run.out());
        byte[] header = java.util.Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, header);
    }

    @Test
    void logitLens_withoutPng_printsTheTable_throughABufferedWriter() {
        // Main.main prints through PrintWriters over System.out, which flush on println only.
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();

        int status = Main.execute(new String[] {"logit-lens", "--model", STORIES, "-p", ""},
                new PrintWriter(out, true), new PrintWriter(err, true));

        assertEquals(0, status, err.toString());
        String table = out.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(table.startsWith("layer  <s>"), table);
        assertEquals(6, table.strip().split("\n").length, table);
    }

    @Test
    void missingModel_printsOneMessage_andExitsWithOne(@TempDir Path dir) {
        Run run = run("generate", "--model", dir.resolve("nowhere").toString());

        assertEquals(1, run.status());
        assertTrue(run.err().startsWith("nnsight: no model folder at"), run.err());
    }

    @Test
    void unknownOption_showsUsage() {
        Run run = run("generate", "--model", STORIES, "--bogus");

        assertEquals(2, run.status());
        assertTrue(run.err().contains("Unknown option: '--bogus'"), run.err());
    }
}
