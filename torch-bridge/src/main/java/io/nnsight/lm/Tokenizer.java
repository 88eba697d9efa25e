package io.nnsight.lm;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A Hugging Face tokenizer ({@code tokenizer.json}), run by the Rust {@code tokenizers} library through
 * DJL's binding, with the model's special tokens.
 *
 * <p>{@link #encode} adds the special tokens the tokenizer's post-processor defines (Llama's BOS; none for
 * GPT-2), and never truncates: a language model checks lengths against its context itself.
 */
public final class Tokenizer implements AutoCloseable {
    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final int size;
    private final long bos;
    private final long eos;
    private final long pad;

    private Tokenizer(Path file, HuggingFaceTokenizer tokenizer, int size, long bos, long eos, long pad) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.size = size;
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
        int size = vocabularySize(file);
        try {
            HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(file)
                    .optAddSpecialTokens(true)
                    .optTruncation(false)
                    .optPadding(false)
                    .optMaxLength(Integer.MAX_VALUE)
                    .build();
            return new Tokenizer(file, tokenizer, size, bos, eos, pad >= 0 ? pad : eos);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + " is not a Hugging Face tokenizer that the tokenizers library "
                    + "can load: " + e.getMessage(), e);
        }
    }

    private static int vocabularySize(Path file) {
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonObject json = JsonParser.parseReader(reader).getAsJsonObject();
            long largest = -1;
            JsonElement vocab = json.getAsJsonObject("model").get("vocab");
            if (vocab != null && vocab.isJsonObject()) {
                for (Map.Entry<String, JsonElement> entry : vocab.getAsJsonObject().entrySet()) {
                    largest = Math.max(largest, entry.getValue().getAsLong());
                }
            } else if (vocab != null && vocab.isJsonArray()) {
                largest = vocab.getAsJsonArray().size() - 1;
            }
            JsonElement added = json.get("added_tokens");
            if (added != null && added.isJsonArray()) {
                for (JsonElement token : added.getAsJsonArray()) {
                    largest = Math.max(largest, token.getAsJsonObject().get("id").getAsLong());
                }
            }
            return Math.toIntExact(largest + 1);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (JsonParseException | IllegalStateException | NullPointerException e) {
            throw new IllegalArgumentException(file + " is not a Hugging Face tokenizer.json (expected a JSON object "
                    + "with a \"model\" holding a \"vocab\"): " + e.getMessage(), e);
        }
    }

    /** The token ids of {@code text}, with the special tokens the tokenizer adds (a BOS, for Llama). */
    public long[] encode(String text) {
        return tokenizer.encode(text).getIds();
    }

    /** The text of {@code ids}, without special tokens. */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    /** The text of one token, special tokens included (for showing tokens one by one). */
    public String token(long id) {
        return tokenizer.decode(new long[] {id}, false);
    }

    /** The number of tokens the tokenizer knows (largest id + 1). */
    public int vocabularySize() {
        return size;
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
