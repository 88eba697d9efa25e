package io.nnsight.lm.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.nnsight.lm.CausalLM;
import io.nnsight.lm.gpt2.GPT2LMHeadModel;
import io.nnsight.lm.gpt2.Gpt2Config;
import io.nnsight.lm.llama.LlamaConfig;
import io.nnsight.lm.llama.LlamaForCausalLM;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads a Hugging Face {@code config.json} and builds the model it describes. */
public final class Configs {
    /** The architectures ({@code model_type}) this library implements. */
    public static final List<String> ARCHITECTURES = List.of("llama", "gpt2");

    private final Path file;
    private final JsonObject json;

    private Configs(Path file, JsonObject json) {
        this.file = file;
        this.json = json;
    }

    /** Reads a JSON object from {@code file}, with errors that name the file. */
    public static JsonObject readJson(Path file) {
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonElement element = JsonParser.parseReader(reader);
            if (!element.isJsonObject()) {
                throw new IllegalArgumentException(file + " must hold a JSON object, not " + element);
            }
            return element.getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** The config of the model in {@code config.json}. */
    public static Configs read(Path file) {
        return new Configs(file, readJson(file));
    }

    /** The {@code model_type}, checked against the architectures this library implements. */
    public String architecture() {
        String type = string("model_type");
        if (!ARCHITECTURES.contains(type)) {
            throw new IllegalArgumentException(file + " describes a '" + type + "' model (model_type); this library "
                    + "implements " + String.join(" and ", ARCHITECTURES));
        }
        return type;
    }

    /** Builds the model (with random weights, to be loaded). */
    public CausalLM build() {
        return architecture().equals("llama") ? new LlamaForCausalLM(llama()) : new GPT2LMHeadModel(gpt2());
    }

    private LlamaConfig llama() {
        int heads = integer("num_attention_heads");
        long hidden = number("hidden_size");
        JsonObject rope = json.has("rope_parameters") && json.get("rope_parameters").isJsonObject()
                ? json.getAsJsonObject("rope_parameters")
                : json.has("rope_scaling") && json.get("rope_scaling").isJsonObject() ? json.getAsJsonObject("rope_scaling") : null;
        String ropeType = rope == null || !rope.has("rope_type") ? "default" : rope.get("rope_type").getAsString();
        if (!ropeType.equals("default")) {
            throw new IllegalArgumentException(file + " asks for rotary embeddings of type '" + ropeType
                    + "'; this library implements the 'default' type only");
        }
        double theta = json.has("rope_theta") ? json.get("rope_theta").getAsDouble()
                : rope != null && rope.has("rope_theta") ? rope.get("rope_theta").getAsDouble() : 10000.0;
        return new LlamaConfig(number("vocab_size"), hidden, number("intermediate_size"), integer("num_hidden_layers"),
                heads, optionalInt("num_key_value_heads", heads), optionalInt("head_dim", (int) (hidden / heads)),
                json.get("rms_norm_eps") == null ? 1e-6 : json.get("rms_norm_eps").getAsDouble(), theta,
                integer("max_position_embeddings"), optionalBoolean("tie_word_embeddings", false),
                optionalBoolean("attention_bias", false), optionalBoolean("mlp_bias", false));
    }

    private Gpt2Config gpt2() {
        long embedding = number("n_embd");
        return new Gpt2Config(number("vocab_size"), integer("n_positions"), embedding, integer("n_layer"), integer("n_head"),
                isNull("n_inner") ? 4 * embedding : number("n_inner"),
                json.get("layer_norm_epsilon") == null ? 1e-5 : json.get("layer_norm_epsilon").getAsDouble(),
                json.get("resid_pdrop") == null ? 0.1 : json.get("resid_pdrop").getAsDouble());
    }

    /** The ids of {@code key} ({@code eos_token_id} may be a list); empty when absent or null. */
    public long[] tokenIds(String key) {
        JsonElement value = json.get(key);
        if (value == null || value.isJsonNull()) {
            return new long[0];
        }
        if (value.isJsonArray()) {
            List<Long> ids = new ArrayList<>();
            value.getAsJsonArray().forEach(id -> ids.add(id.getAsLong()));
            return ids.stream().mapToLong(Long::longValue).toArray();
        }
        return new long[] {value.getAsLong()};
    }

    private boolean isNull(String key) {
        return json.get(key) == null || json.get(key).isJsonNull();
    }

    private String string(String key) {
        if (isNull(key)) {
            throw missing(key);
        }
        return json.get(key).getAsString();
    }

    private long number(String key) {
        if (isNull(key)) {
            throw missing(key);
        }
        try {
            return json.get(key).getAsLong();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": \"" + key + "\" must be a whole number, got " + json.get(key), e);
        }
    }

    private int integer(String key) {
        return Math.toIntExact(number(key));
    }

    private int optionalInt(String key, int fallback) {
        return isNull(key) ? fallback : integer(key);
    }

    private boolean optionalBoolean(String key, boolean fallback) {
        return isNull(key) ? fallback : json.get(key).getAsBoolean();
    }

    private IllegalArgumentException missing(String key) {
        return new IllegalArgumentException(file + " has no \"" + key + "\", which a "
                + (json.has("model_type") ? json.get("model_type").getAsString() : "Hugging Face") + " config needs");
    }
}
