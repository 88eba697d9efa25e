package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.Tensors;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Each example, run as {@code examples/run} runs it, on stories260K, with what it prints checked against the
 * numbers of Hugging Face transformers and nnsight ({@code reference.json}, {@code reference-extras.json}) where
 * they exist, and against what must hold otherwise.
 */
class ExamplesTest {
    private static final String STORIES = Shared.path("models/stories260K").toString();

    /** What {@code main} prints, given the model folder. */
    private static String run(Consumer<String[]> main) {
        PrintStream original = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            main.accept(new String[] {STORIES});
        } finally {
            System.setOut(original);
        }
        String output = printed.toString(StandardCharsets.UTF_8);
        original.print(output);
        return output;
    }

    @Test
    void logitLens_predictsWhatTheReferenceLensDoes() {
        String output = run(LogitLens::main);

        List<Long> reference = new java.util.ArrayList<>();
        Shared.reference("models/stories260K/reference.json").getAsJsonArray("logit_lens_top1_per_layer")
                .forEach(id -> reference.add(id.getAsLong()));
        assertTrue(output.contains("top-1 ids: " + reference), output);
        assertEquals(5, output.lines().filter(line -> line.startsWith("layer ")).count(), output);
    }

    @Test
    void activationPatching_restoresAllAtTheLastLayersLastToken_andNothingBeforeThePromptsDiffer() {
        String output = run(ActivationPatching::main);

        List<double[]> rows = output.lines().filter(line -> line.matches("L\\d .*"))
                .map(line -> Arrays.stream(line.substring(2).trim().split("\\s+")).mapToDouble(Double::parseDouble).toArray())
                .collect(Collectors.toList());
        assertEquals(5, rows.size(), output);
        double[] last = rows.get(4);
        assertEquals(1.0, last[last.length - 1], 1e-9, output);
        for (double[] row : rows) {
            for (int position = 0; position < 10; position++) { // "<s> Once upon a time, there was a little" are the same
                assertEquals(0.0, row[position], 1e-9, output);
            }
        }
        assertTrue(output.startsWith("logit(She) - logit(He): clean 6.980, corrupted -4.360"), output);
    }

    @Test
    void ablation_ofLayer4sMlp_givesTheReferenceTop5_andEachHeadMovesTheLogit() {
        String output = run(Ablation::main);

        JsonArray ids = Shared.reference("models/stories260K/reference.json").getAsJsonObject("ablate_layer4_mlp_zero")
                .getAsJsonObject("last_logits_top5").getAsJsonArray("ids");
        String line = output.lines().filter(l -> l.startsWith("top 5, layer 4's MLP off:")).findFirst().orElseThrow();
        StringBuilder expected = new StringBuilder(".*");
        ids.forEach(id -> expected.append("\\(").append(id.getAsLong()).append("\\).*"));
        assertTrue(line.matches(expected.toString()), line + " vs " + ids);
        assertEquals(8, output.lines().filter(l -> l.matches("  head \\d: -?\\d+\\.\\d{3}")).count(), output);
    }

    @Test
    void steering_changesTheGeneration_whoseUnsteeredTextIsTheReference() {
        String output = run(Steering::main);

        String greedy = Shared.reference("models/stories260K/reference.json").getAsJsonObject("greedy20")
                .get("text").getAsString();
        List<String> lines = output.lines().collect(Collectors.toList());
        assertEquals("plain:   " + greedy, lines.get(0));
        assertTrue(lines.get(1).startsWith("steered: Once upon a time"), output);
        assertNotEquals(lines.get(0).substring(9), lines.get(1).substring(9), "the steering vector changed nothing");
    }

    @Test
    void attentionPattern_isTheReferenceAttention() {
        String output = run(AttentionPattern::main);

        JsonObject reference = Shared.reference("models/stories260K/reference-extras.json").getAsJsonObject("attention_probs");
        LanguageModel lm = LanguageModel.load(STORIES);
        String prompt = Shared.reference("models/stories260K/reference-extras.json").get("prompt").getAsString();
        JsonArray layers = reference.getAsJsonArray("layers");
        for (int i = 0; i < layers.size(); i++) {
            int layer = layers.get(i).getAsInt();
            float[] row = Tensors.floats(AttentionPattern.pattern(lm, prompt, layer).select(0, 0).select(0, -1));
            JsonArray expected = reference.getAsJsonArray("last_query_head0").get(i).getAsJsonArray();
            assertEquals(expected.size(), row.length);
            for (int key = 0; key < row.length; key++) {
                assertEquals(expected.get(key).getAsDouble(), row[key], 1e-3, "layer " + layer + ", key " + key);
            }
            assertTrue(output.contains("layer " + layer + ", head 0, last token attends to:"), output);
        }
    }

    @Test
    void everyExample_hasAnIntellijRunConfiguration() throws IOException {
        Path sources = Path.of("src/main/java/io/nnsight/examples");
        Set<String> examples = new TreeSet<>();
        try (Stream<Path> files = Files.list(sources)) {
            files.map(file -> file.getFileName().toString())
                    .filter(name -> name.endsWith(".java") && !name.equals("package-info.java"))
                    .forEach(name -> examples.add(name.substring(0, name.length() - ".java".length())));
        }
        Set<String> configured = new TreeSet<>();
        try (Stream<Path> files = Files.list(Path.of("../.run"))) {
            for (Path file : (Iterable<Path>) files::iterator) {
                String xml = Files.readString(file);
                if (xml.contains("\"nnsight-examples\"")) {
                    configured.add(xml.replaceAll("(?s).*name=\"MAIN_CLASS_NAME\" value=\"io\\.nnsight\\.examples\\.(\\w+)\".*", "$1"));
                    assertTrue(xml.contains("$PROJECT_DIR$"), file + " must run in the project's root, where ../shared is");
                }
            }
        }
        assertEquals(examples, configured);
    }
}
