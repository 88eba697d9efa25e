package io.nnsight.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.nnsight.lm.LanguageModel;
import io.nnsight.safetensors.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;

/**
 * Load time and peak resident memory of a random-init Llama checkpoint of about 1 GB (bfloat16, 537 million
 * parameters), generated at run time into a temporary folder and deleted after (never committed). Each run is a JVM of
 * its own, which loads stories260K first (so that libtorch, the tokenizer and the classes are in), then resets its
 * peak resident memory ({@code /proc/self/clear_refs}), loads the checkpoint, and reports the wall time and the peak
 * growth of its resident memory over what it held before the load, after the load and after one forward pass (which
 * touches every weight). Scenarios: the default type (the checkpoint's, bfloat16: memory-mapped) and float32
 * (converted as it loads). Linux only.
 *
 * <pre>
 * java -cp jmh/target/benchmarks.jar io.nnsight.bench.LoadMemory [runs, default 5]
 * </pre>
 */
public final class LoadMemory {
    private static final int VOCAB = 32000;
    private static final int HIDDEN = 2048;
    private static final int INTERMEDIATE = 5632;
    private static final int LAYERS = 9;
    private static final int HEADS = 16;
    private static final int KEY_VALUE_HEADS = 4;
    private static final int HEAD_DIM = 128;

    private LoadMemory() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(Path.of(args[1]), args[2]);
            return;
        }
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        Path folder = Files.createTempDirectory("nnsight-load-");
        try {
            long bytes = write(folder);
            System.out.printf(Locale.ROOT, "checkpoint: %s, %.0f MiB (%d layers, hidden %d, bfloat16)%n", folder,
                    bytes / 1048576.0, LAYERS, HIDDEN);
            System.out.println("| dtype | load s (median) | peak growth during load, MiB | × file | after a forward, MiB | × file |");
            System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
            for (String dtype : List.of("default", "F32")) {
                List<double[]> results = new ArrayList<>();
                for (int run = 0; run < runs; run++) {
                    results.add(runChild(folder, dtype));
                }
                double[] median = median(results);
                System.out.printf(Locale.ROOT, "| %s | %.2f | %.0f | %.2f | %.0f | %.2f |%n", dtype.equals("default")
                        ? "default (bfloat16, mapped)" : "float32 (converted)", median[0], median[1],
                        median[1] * 1048576 / bytes, median[2], median[2] * 1048576 / bytes);
            }
        } finally {
            try (Stream<Path> files = Files.walk(folder)) {
                files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    /** Runs one load in a JVM of its own: {load seconds, peak growth MiB after the load, after a forward}. */
    private static double[] runChild(Path folder, String dtype) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-cp",
                System.getProperty("java.class.path"), LoadMemory.class.getName(), "--child", folder.toString(), dtype)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (process.waitFor() != 0) {
            throw new IllegalStateException("the load failed: " + output);
        }
        String[] fields = output.substring(output.lastIndexOf('\n') + 1).split(" ");
        return new double[] {Double.parseDouble(fields[0]), Double.parseDouble(fields[1]), Double.parseDouble(fields[2])};
    }

    private static void child(Path folder, String dtype) throws IOException {
        GradMode.set_enabled(false);
        LanguageModel warm = LanguageModel.load(Shared.path("models/stories260K").toString());
        warm.trace("Once upon a time", tr -> null);
        System.gc();
        long before = status("VmRSS");
        Files.writeString(Path.of("/proc/self/clear_refs"), "5"); // resets VmHWM to the current resident size
        long start = System.nanoTime();
        LanguageModel.Options options = LanguageModel.Options.defaults();
        LanguageModel lm = LanguageModel.load(folder.toString(), dtype.equals("default") ? options
                : options.dtype(DType.parse(dtype)));
        double seconds = (System.nanoTime() - start) / 1e9;
        long afterLoad = status("VmHWM");
        try (PointerScope scope = new PointerScope()) {
            lm.trace("Once upon a time, there was a little girl named Lily.", tr -> null);
        }
        long afterForward = status("VmHWM");
        System.out.printf(Locale.ROOT, "%.3f %.1f %.1f%n", seconds, (afterLoad - before) / 1024.0,
                (afterForward - before) / 1024.0);
    }

    /** A field of {@code /proc/self/status}, in KiB. */
    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("/proc/self/status has no " + field);
    }

    private static double[] median(List<double[]> results) {
        double[] median = new double[results.get(0).length];
        for (int i = 0; i < median.length; i++) {
            int column = i;
            median[i] = results.stream().mapToDouble(result -> result[column]).sorted().toArray()[results.size() / 2];
        }
        return median;
    }

    /** Writes config.json, tokenizer.json (stories260K's) and model.safetensors; returns the checkpoint's size. */
    private static long write(Path folder) throws IOException {
        JsonObject config = new JsonObject();
        config.addProperty("model_type", "llama");
        config.addProperty("vocab_size", VOCAB);
        config.addProperty("hidden_size", HIDDEN);
        config.addProperty("intermediate_size", INTERMEDIATE);
        config.addProperty("num_hidden_layers", LAYERS);
        config.addProperty("num_attention_heads", HEADS);
        config.addProperty("num_key_value_heads", KEY_VALUE_HEADS);
        config.addProperty("head_dim", HEAD_DIM);
        config.addProperty("max_position_embeddings", 2048);
        config.addProperty("rms_norm_eps", 1e-5);
        config.addProperty("dtype", "bfloat16");
        config.addProperty("bos_token_id", 1);
        config.addProperty("eos_token_id", 2);
        Files.writeString(folder.resolve("config.json"), config.toString());
        Files.copy(Shared.path("models/stories260K").resolve("tokenizer.json"), folder.resolve("tokenizer.json"));
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {VOCAB, HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String layer = "model.layers." + i + ".";
            shapes.put(layer + "input_layernorm.weight", new long[] {HIDDEN});
            shapes.put(layer + "post_attention_layernorm.weight", new long[] {HIDDEN});
            shapes.put(layer + "self_attn.q_proj.weight", new long[] {HEADS * HEAD_DIM, HIDDEN});
            shapes.put(layer + "self_attn.k_proj.weight", new long[] {KEY_VALUE_HEADS * HEAD_DIM, HIDDEN});
            shapes.put(layer + "self_attn.v_proj.weight", new long[] {KEY_VALUE_HEADS * HEAD_DIM, HIDDEN});
            shapes.put(layer + "self_attn.o_proj.weight", new long[] {HIDDEN, HEADS * HEAD_DIM});
            shapes.put(layer + "mlp.gate_proj.weight", new long[] {INTERMEDIATE, HIDDEN});
            shapes.put(layer + "mlp.up_proj.weight", new long[] {INTERMEDIATE, HIDDEN});
            shapes.put(layer + "mlp.down_proj.weight", new long[] {HIDDEN, INTERMEDIATE});
        }
        shapes.put("model.norm.weight", new long[] {HIDDEN});
        shapes.put("lm_head.weight", new long[] {VOCAB, HIDDEN});
        return writeSafetensors(folder.resolve("model.safetensors"), shapes);
    }

    /** Random bfloat16 tensors of the given shapes, uniform in ±0.03 (norm weights around 1). */
    private static long writeSafetensors(Path file, Map<String, long[]> shapes) throws IOException {
        JsonObject header = new JsonObject();
        long offset = 0;
        for (Map.Entry<String, long[]> entry : shapes.entrySet()) {
            JsonObject tensor = new JsonObject();
            tensor.addProperty("dtype", "BF16");
            JsonArray shape = new JsonArray();
            long count = 1;
            for (long size : entry.getValue()) {
                shape.add(size);
                count *= size;
            }
            tensor.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + 2 * count);
            tensor.add("data_offsets", offsets);
            header.add(entry.getKey(), tensor);
            offset += 2 * count;
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the data section starts 8-aligned, as the reference writer makes it
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        prefix.flip();
        long state = 0x9E3779B97F4A7C15L;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            channel.write(prefix);
            ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 24).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, long[]> entry : shapes.entrySet()) {
                long count = 1;
                for (long size : entry.getValue()) {
                    count *= size;
                }
                boolean norm = entry.getValue().length == 1;
                for (long i = 0; i < count; i++) {
                    state ^= state << 13;
                    state ^= state >>> 7;
                    state ^= state << 17;
                    float value = (float) ((state >>> 40) / (double) (1L << 24) - 0.5) * 0.06f + (norm ? 1 : 0);
                    chunk.putShort((short) (Float.floatToRawIntBits(value) >>> 16));
                    if (!chunk.hasRemaining()) {
                        chunk.flip();
                        write(channel, chunk);
                    }
                }
            }
            chunk.flip();
            write(channel, chunk);
        }
        return Files.size(file);
    }

    private static void write(FileChannel channel, ByteBuffer chunk) {
        try {
            while (chunk.hasRemaining()) {
                channel.write(chunk);
            }
            chunk.clear();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
