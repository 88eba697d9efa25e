package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nnsight.Tensors;
import io.nnsight.safetensors.SafeTensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntToDoubleFunction;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The models and fixtures in {@code ../shared}, beside the project's root, for the tests of every module (the
 * other modules depend on this module's test jar).
 */
public final class Shared {
    /** A prompt of stories260K's training stories. */
    public static final String STORIES_PROMPT = "Once upon a time, there was a little girl named Lily.";

    private Shared() {}

    /** Loads a fresh copy of {@code models/stories260K}, the real tiny Llama. */
    public static LanguageModel stories() {
        return LanguageModel.load(path("models/stories260K").toString());
    }

    /** {@code shared/<relative>}, found in the nearest ancestor of the working directory that has it. */
    public static Path path(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve(relative);
            if (Files.exists(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared/" + relative + " not found beside the project (expected ../shared)");
    }

    /** A reference.json as a JSON object. */
    public static JsonObject reference(String relative) {
        try {
            return JsonParser.parseString(Files.readString(path(relative), StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Copies the files of fixture {@code name} into {@code folder}, its {@code config.json} changed by {@code change}:
     * a variant of a shared fixture that a test needs (the shared files stay as they are).
     */
    public static void fixtureVariant(String name, Path folder, Consumer<JsonObject> change) {
        Path source = path("fixtures/" + name);
        try (Stream<Path> files = Files.list(source)) {
            for (Path file : files.toList()) {
                if (!file.getFileName().toString().equals("config.json")) {
                    Files.copy(file, folder.resolve(file.getFileName()));
                }
            }
            JsonObject config = JsonParser.parseString(Files.readString(source.resolve("config.json"))).getAsJsonObject();
            change.accept(config);
            Files.writeString(folder.resolve("config.json"), config.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Rewrites the safetensors {@code file} (a derived fixture's, never a shared one) without the tensors {@code
     * removed} and with the float32 vectors {@code added}: a variant of a fixture for a family whose weights differ
     * from the fixture's.
     */
    public static void replaceWeights(Path file, Collection<String> removed, Map<String, float[]> added) {
        replaceWeights(file, name -> name, removed, added);
    }

    /** {@link #replaceWeights(Path, Collection, Map)}, the tensors kept renamed by {@code rename}. */
    public static void replaceWeights(Path file, UnaryOperator<String> rename, Collection<String> removed,
            Map<String, float[]> added) {
        Map<String, Weight> vectors = new LinkedHashMap<>();
        added.forEach((name, values) -> vectors.put(name, new Weight(new long[] {values.length}, values)));
        replaceShapedWeights(file, rename, removed, vectors);
    }

    /** A float32 tensor to add to a checkpoint: its shape and its values, row-major. */
    public record Weight(long[] shape, float[] values) {}

    /**
     * A deterministic matrix for derived fixtures, {@code ((7r + 13c + 17e + 19l + 23k) % 29 - 14) / 140} at row
     * {@code r}, column {@code c}, for layer {@code l}, kind {@code k} and expert {@code e}: as the reference scripts
     * of {@code src/test/python} make it.
     */
    public static Weight formulaMatrix(int layer, int kind, int expert, int rows, int columns) {
        float[] values = new float[rows * columns];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < columns; c++) {
                values[r * columns + c] = (float) (((7 * r + 13 * c + 17 * expert + 19 * layer + 23 * kind) % 29 - 14)
                        / 140.0);
            }
        }
        return new Weight(new long[] {rows, columns}, values);
    }

    /** A vector of {@code size} values, {@code formula(j)} at index {@code j}. */
    public static Weight vector(int size, IntToDoubleFunction formula) {
        float[] values = new float[size];
        for (int j = 0; j < size; j++) {
            values[j] = (float) formula.applyAsDouble(j);
        }
        return new Weight(new long[] {size}, values);
    }

    /** {@link #replaceWeights(Path, UnaryOperator, Collection, Map)} with tensors of any shape added. */
    public static void replaceShapedWeights(Path file, UnaryOperator<String> rename, Collection<String> removed,
            Map<String, Weight> added) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            added.forEach((name, weight) -> {
                Tensor tensor = torch.zeros(weight.shape());
                new FloatPointer(tensor.data_ptr()).put(weight.values());
                tensors.put(name, tensor);
            });
            replaceTensors(file, rename, removed, tensors);
        }
    }

    /** {@link #replaceShapedWeights} with libtorch tensors of any type added (bytes, say). */
    public static void replaceTensors(Path file, UnaryOperator<String> rename, Collection<String> removed,
            Map<String, Tensor> added) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, String> metadata;
            try (SafeTensors checkpoint = SafeTensors.open(file)) {
                metadata = checkpoint.metadata();
                for (String name : checkpoint.names()) {
                    if (!removed.contains(name)) {
                        tensors.put(rename.apply(name), checkpoint.tensor(name));
                    }
                }
            }
            tensors.putAll(added);
            SafeTensors.write(file, tensors, metadata);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }


    /**
     * Rotary parameters per layer type, as transformers 5 writes them in a config: linear scaling by 2 over {@code
     * fullTheta} in the full layers, the default rotation over {@code slidingTheta} in the sliding ones.
     */
    public static JsonObject ropePerLayerType(double fullTheta, double slidingTheta) {
        JsonObject full = new JsonObject();
        full.addProperty("rope_type", "linear");
        full.addProperty("factor", 2.0);
        full.addProperty("rope_theta", fullTheta);
        JsonObject sliding = new JsonObject();
        sliding.addProperty("rope_type", "default");
        sliding.addProperty("rope_theta", slidingTheta);
        JsonObject rope = new JsonObject();
        rope.add("full_attention", full);
        rope.add("sliding_attention", sliding);
        return rope;
    }

    /** Asserts that {@code actual}'s first values are {@code expected}'s within {@code tolerance}; {@code what} names them. */
    public static void assertClose(double[] expected, Tensor actual, double tolerance, String what) {
        float[] values = Tensors.floats(actual);
        assertTrue(values.length >= expected.length, what + ": " + values.length + " values");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], values[i], tolerance, what + " " + i);
        }
    }

    /**
     * Asserts that {@code logits}, a position's, have transformers' first values (within 1e-5), sum and L2 norm (within
     * 1e-4), as the reference scripts print them.
     */
    public static void assertLogits(double[] first, double sum, double l2, Tensor logits) {
        assertClose(first, logits, 1e-5, "logits");
        assertEquals(sum, logits.sum().item_double(), 1e-4, "sum of the logits");
        assertEquals(l2, logits.norm().item_double(), 1e-4, "L2 of the logits");
    }
}
