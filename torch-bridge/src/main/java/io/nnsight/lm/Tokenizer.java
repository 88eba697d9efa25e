package io.nnsight.lm;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face tokenizer ({@code tokenizer.json}), run by the Rust {@code tokenizers} library through
 * DJL's binding, with the model's special tokens.
 *
 * <p>{@link #encode} adds the special tokens the tokenizer's post-processor defines (Llama's BOS; none for
 * GPT-2), and never truncates: a language model checks lengths against its context itself.
 */
public final class Tokenizer implements AutoCloseable {
    static {
        quietCudaProbe();
    }

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final String[] pieces;
    private final long bos;
    private final long eos;
    private final long pad;

    private Tokenizer(Path file, HuggingFaceTokenizer tokenizer, String[] pieces, long bos, long eos, long pad) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.pieces = pieces;
        this.bos = bos;
        this.eos = eos;
        this.pad = pad;
    }

    /**
     * Loads {@code tokenizer.json}.
     *
     * @param bos the id of the beginning-of-sequence token, or -1
     * @param eos the id of the end-of-sequence token, or -1
     * @param pad the id padding uses, or -1 to pad with {@code eos}
     * @throws IllegalArgumentException when the file is missing or is not a tokenizer
     */
    public static Tokenizer load(Path file, long bos, long eos, long pad) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no tokenizer at " + file + ": a Hugging Face model folder has a "
                    + "tokenizer.json; give another one with LanguageModel.Options.tokenizer(path)");
        }
        String[] pieces = vocabulary(file);
        try {
            HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(file)
                    .optAddSpecialTokens(true)
                    .optTruncation(false)
                    .optPadding(false)
                    .optMaxLength(Integer.MAX_VALUE)
                    .build();
            return new Tokenizer(file, tokenizer, pieces, bos, eos, pad >= 0 ? pad : eos);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + " is not a Hugging Face tokenizer that the tokenizers library "
                    + "can load: " + e.getMessage(), e);
        }
    }

    /**
     * DJL probes for CUDA when it loads the tokenizers' native library, and on a machine with a CUDA runtime
     * but no usable driver it logs "Failed to detect GPU count" as a warning, twice. The tokenizers run on the
     * CPU whatever it finds (and this library's libtorch is a CPU build), so the probe's messages only alarm:
     * they are turned off, through the switch DJL's own command-line probe uses. With another DJL version
     * that lacks it, nothing changes.
     */
    private static void quietCudaProbe() {
        try {
            Field logging = Class.forName("ai.djl.util.cuda.CudaUtils").getDeclaredField("logging");
            logging.setAccessible(true);
            logging.setBoolean(null, false);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            // DJL's messages stay as they are
        }
    }

    /** Each id's vocabulary entry, the model's vocabulary and the added tokens; {@code null} where an id has none. */
    private static String[] vocabulary(Path file) {
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonObject json = JsonParser.parseReader(reader).getAsJsonObject();
            Map<Long, String> entries = new java.util.HashMap<>();
            JsonElement vocab = json.getAsJsonObject("model").get("vocab");
            if (vocab != null && vocab.isJsonObject()) {
                for (Map.Entry<String, JsonElement> entry : vocab.getAsJsonObject().entrySet()) {
                    entries.put(entry.getValue().getAsLong(), entry.getKey());
                }
            } else if (vocab != null && vocab.isJsonArray()) {
                // Unigram: [piece, score] pairs, the id being the position
                for (int id = 0; id < vocab.getAsJsonArray().size(); id++) {
                    JsonElement entry = vocab.getAsJsonArray().get(id);
                    entries.put((long) id, entry.isJsonArray() ? entry.getAsJsonArray().get(0).getAsString() : null);
                }
            }
            JsonElement added = json.get("added_tokens");
            if (added != null && added.isJsonArray()) {
                for (JsonElement token : added.getAsJsonArray()) {
                    JsonObject object = token.getAsJsonObject();
                    entries.put(object.get("id").getAsLong(), object.get("content").getAsString());
                }
            }
            long largest = entries.keySet().stream().mapToLong(Long::longValue).max().orElse(-1);
            String[] pieces = new String[Math.toIntExact(largest + 1)];
            entries.forEach((id, piece) -> pieces[Math.toIntExact(id)] = piece);
            return pieces;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (JsonParseException | IllegalStateException | NullPointerException | UnsupportedOperationException e) {
            throw new IllegalArgumentException(file + " is not a Hugging Face tokenizer.json (expected a JSON object "
                    + "with a \"model\" holding a \"vocab\"): " + e.getMessage(), e);
        }
    }

    /**
     * The token ids of {@code text}, with the special tokens the tokenizer adds (a BOS, for Llama).
     *
     * <p>It asks the native encoding for its ids only: DJL's {@code HuggingFaceTokenizer.encode} copies all nine of
     * its arrays (tokens, character spans, masks, ...) into Java, which made up a third of tokenizing a served
     * prompt. The text goes to the native tokenizer as DJL's {@code encode} passes it, since this tokenizer is built
     * without DJL's Java-side options (lower-casing, accent stripping, a prefix space).
     */
    public long[] encode(String text) {
        Objects.requireNonNull(text, "text");
        long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), text, true);
        try {
            return TokenizersLibrary.LIB.getTokenIds(encoding);
        } finally {
            TokenizersLibrary.LIB.deleteEncoding(encoding);
        }
    }

    /** The text of {@code ids}, without special tokens. */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    /**
     * The text of {@code ids}, without special tokens: what a generation body collects step by step.
     *
     * <pre>{@code
     * List<Long> tokens = lm.generate(prompt, Generation.maxNewTokens(5), tr -> {
     *     List<Long> picked = new ArrayList<>();
     *     for (int step : tr.all()) {
     *         picked.add(lm.get("generator.streamer").output().item_long());
     *     }
     *     return picked;
     * });
     * String text = lm.tokenizer().decode(tokens);
     * }</pre>
     */
    public String decode(List<Long> ids) {
        return decode(ids.stream().mapToLong(Long::longValue).toArray());
    }

    /** The text of one token, special tokens included (for showing tokens one by one). */
    public String token(long id) {
        return tokenizer.decode(new long[] {id}, false);
    }

    /**
     * The vocabulary entry of one token, as the tokenizer writes it: {@code "▁Lily"} and {@code "<0x0A>"} for
     * Llama's, {@code "ĠLily"} for GPT-2's. Unlike {@link #token}, it shows a byte that is only part of a
     * character, and spaces as the tokenizer marks them.
     *
     * @throws IllegalArgumentException when {@code id} is not a token of this tokenizer
     */
    public String piece(long id) {
        if (id < 0 || id >= pieces.length || pieces[(int) id] == null) {
            throw new IllegalArgumentException("no token has the id " + id + " (the vocabulary has " + pieces.length
                    + ")");
        }
        return pieces[(int) id];
    }

    /** The number of tokens the tokenizer knows (largest id + 1). */
    public int vocabularySize() {
        return pieces.length;
    }

    /** The beginning-of-sequence token's id, or -1. */
    public long bos() {
        return bos;
    }

    /** The end-of-sequence token's id, or -1. */
    public long eos() {
        return eos;
    }

    /** The id used to pad shorter prompts of a batch (the model's pad token, else its EOS). */
    public long pad() {
        return pad;
    }

    /** The {@code tokenizer.json} this tokenizer was loaded from. */
    public Path file() {
        return file;
    }

    /** Releases the native tokenizer. */
    @Override
    public void close() {
        tokenizer.close();
    }
}
