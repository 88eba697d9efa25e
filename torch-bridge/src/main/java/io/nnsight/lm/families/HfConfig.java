package io.nnsight.lm.families;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.nnsight.lm.decoder.Activation;
import io.nnsight.lm.decoder.Rope;
import io.nnsight.safetensors.DType;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code config.json} (or {@code generation_config.json}), read field by field with
 * transformers' defaults: what a {@link Family} reads to describe its model. Every error names the file and the
 * field.
 *
 * <p>A field read with a default takes the default when the file lacks it; a nullable field ({@link
 * #optionalReal}, {@link #optionalInteger}) is {@code null} when the file holds {@code null} and the default when
 * it lacks the field, as transformers' configuration classes do.
 */
public final class HfConfig {
    /** The {@code layer_types} of a layer that attends to every earlier token. */
    static final String FULL = "full_attention";
    /** The {@code layer_types} of a layer that attends within {@code sliding_window}. */
    static final String SLIDING = "sliding_attention";
    private static final List<String> LAYER_TYPES = List.of(FULL, SLIDING);

    private final Path file;
    private final JsonObject json;
    /** Where {@link #json} sits in the file: {@code ""}, or {@code "text_config."} for a section. */
    private final String prefix;

    private HfConfig(Path file, JsonObject json, String prefix) {
        this.file = file;
        this.json = json;
        this.prefix = prefix;
    }

    /**
     * Reads {@code file}.
     *
     * @throws IllegalArgumentException when it is not a JSON object
     * @throws UncheckedIOException when it cannot be read
     */
    public static HfConfig read(Path file) {
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonElement element = JsonParser.parseReader(reader);
            if (!element.isJsonObject()) {
                throw new IllegalArgumentException(file + " must hold a JSON object, not " + element);
            }
            return new HfConfig(file, element.getAsJsonObject(), "");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** The file. */
    public Path file() {
        return file;
    }

    /**
     * The object at {@code key}, read as a config of its own whose messages name its fields under {@code key}: the
     * language model's {@code text_config} of an image-text checkpoint.
     *
     * @throws IllegalArgumentException when the file has no object at {@code key}
     */
    public HfConfig section(String key) {
        if (!(json.get(key) instanceof JsonObject section)) {
            throw missing(key);
        }
        return new HfConfig(file, section, prefix + key + ".");
    }

    /**
     * This config with {@code defaults} for the fields it lacks: the defaults of transformers' config class, for a
     * family whose configs leave them out (Gemma 3's {@code text_config} gives only what differs from them). A default
     * is a {@link Number} or a {@link JsonElement} (an object such as {@code rope_parameters}).
     *
     * @throws IllegalArgumentException for a default of another type
     */
    public HfConfig withDefaults(Map<String, ?> defaults) {
        JsonObject completed = json.deepCopy();
        defaults.forEach((key, value) -> {
            if (completed.has(key)) {
                return;
            }
            if (value instanceof Number number) {
                completed.addProperty(key, number);
            } else if (value instanceof JsonElement element) {
                completed.add(key, element.deepCopy());
            } else {
                throw new IllegalArgumentException("the default of " + key + " must be a number or JSON, not " + value);
            }
        });
        return new HfConfig(file, completed, prefix);
    }

    /** Whether the file has {@code key} with a value other than {@code null}. */
    public boolean has(String key) {
        return json.get(key) != null && !json.get(key).isJsonNull();
    }

    /** The {@code model_type}. */
    public String modelType() {
        return string("model_type");
    }

    /** A required string. */
    public String string(String key) {
        if (!has(key)) {
            throw missing(key);
        }
        return json.get(key).getAsString();
    }

    /** A string, or {@code fallback} when absent or null. */
    public String string(String key, String fallback) {
        return has(key) ? json.get(key).getAsString() : fallback;
    }

    /** A required whole number. */
    public long number(String key) {
        if (!has(key)) {
            throw missing(key);
        }
        try {
            return json.get(key).getAsLong();
        } catch (RuntimeException e) {
            throw invalid(key, "a whole number", e);
        }
    }

    /** A whole number, or {@code fallback} when absent or null. */
    public long number(String key, long fallback) {
        return has(key) ? number(key) : fallback;
    }

    /** A list of whole numbers that fit an {@code int}; empty when absent or null. */
    public List<Integer> integers(String key) {
        if (!has(key)) {
            return List.of();
        }
        try {
            List<Integer> values = new ArrayList<>();
            json.getAsJsonArray(key).forEach(value -> values.add(Math.toIntExact(value.getAsLong())));
            return values;
        } catch (RuntimeException e) {
            throw invalid(key, "a list of whole numbers", e);
        }
    }

    /** A required whole number that fits an {@code int}. */
    public int integer(String key) {
        return Math.toIntExact(number(key));
    }

    /** A whole number, or {@code fallback} when absent or null. */
    public int integer(String key, int fallback) {
        return has(key) ? integer(key) : fallback;
    }

    /** A nullable whole number: {@code fallback} when absent, {@code null} when null. */
    public Integer optionalInteger(String key, Integer fallback) {
        return !json.has(key) ? fallback : json.get(key).isJsonNull() ? null : Integer.valueOf(integer(key));
    }

    /** A number, or {@code fallback} when absent or null. */
    public double real(String key, double fallback) {
        if (!has(key)) {
            return fallback;
        }
        try {
            return json.get(key).getAsDouble();
        } catch (RuntimeException e) {
            throw invalid(key, "a number", e);
        }
    }

    /** A nullable number: {@code fallback} when absent, {@code null} when null. */
    public Double optionalReal(String key, Double fallback) {
        return !json.has(key) ? fallback : json.get(key).isJsonNull() ? null : Double.valueOf(real(key, 0));
    }

    /** A boolean, or {@code fallback} when absent or null. */
    public boolean bool(String key, boolean fallback) {
        if (!has(key)) {
            return fallback;
        }
        try {
            return json.get(key).getAsBoolean();
        } catch (RuntimeException e) {
            throw invalid(key, "true or false", e);
        }
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

    /** The activation named by {@code key}, or by {@code fallback} when absent; refused naming the field if unknown. */
    public Activation activation(String key, String fallback) {
        String name = string(key, fallback);
        try {
            return Activation.named(name);
        } catch (IllegalArgumentException e) {
            throw refused(key, e.getMessage());
        }
    }

    /** The weights' type that transformers loads by default: {@code dtype} (or the older {@code torch_dtype}); null when absent. */
    public DType dtype() {
        String name = string("dtype", string("torch_dtype", null));
        if (name == null || name.equals("auto")) {
            return null;
        }
        try {
            return DType.parse(name);
        } catch (IllegalArgumentException e) {
            throw refused(has("dtype") ? "dtype" : "torch_dtype", e.getMessage());
        }
    }

    /**
     * Each layer's attention type, {@code layer_types}, or {@code fallback}'s when absent: {@code
     * "full_attention"} or {@code "sliding_attention"}.
     *
     * @throws IllegalArgumentException when the list's length is not {@code layers}, or it names another type
     */
    public List<String> layerTypes(int layers, List<String> fallback) {
        if (!has("layer_types")) {
            return fallback;
        }
        List<String> types = new ArrayList<>();
        json.getAsJsonArray("layer_types").forEach(type -> types.add(type.getAsString()));
        if (types.size() != layers) {
            throw invalid("layer_types", "a list of " + layers + " types, one per layer", null);
        }
        for (String type : types) {
            if (!LAYER_TYPES.contains(type)) {
                throw refused("layer_types", "attention of type '" + type + "' is not implemented; these are: " + LAYER_TYPES);
            }
        }
        return types;
    }

    /**
     * The rotary embeddings, read as transformers standardises them: {@code rope_parameters} (or the older
     * {@code rope_scaling}) with {@code rope_type} (or {@code type}), {@code rope_theta} there or at the top
     * level, and the scaling fields of the type.
     *
     * @param thetaKey the family's older name of the base at the top level, read when neither place has
     *     {@code rope_theta} ({@code rotary_emb_base} for GPT-NeoX), or {@code null}
     * @param partialKey the top-level field of the rotated fraction of each head ({@code partial_rotary_factor},
     *     {@code rotary_pct}), or {@code null} for a family that rotates whole heads
     * @param partialDefault the fraction when no field gives it
     * @throws IllegalArgumentException naming the field, for a rope type this library does not implement or
     *     rotary parameters per layer type
     */
    public Rope rope(String thetaKey, String partialKey, double partialDefault) {
        JsonObject parameters = has("rope_parameters") ? json.getAsJsonObject("rope_parameters")
                : has("rope_scaling") ? json.getAsJsonObject("rope_scaling") : new JsonObject();
        String field = has("rope_parameters") ? "rope_parameters" : "rope_scaling";
        if (parameters.has(FULL) || parameters.has(SLIDING)) {
            throw refused(field, "rotary parameters per layer type are not implemented");
        }
        double theta = real(parameters, "rope_theta", real("rope_theta", thetaKey == null ? 10000.0 : real(thetaKey, 10000.0)));
        double partial = partialKey == null ? partialDefault
                : real(parameters, "partial_rotary_factor", real(partialKey, partialDefault));
        return rope(parameters, field, theta, partial);
    }

    /**
     * The rotary embeddings of the layers of one type, for a family whose full and sliding-window layers rotate
     * differently (Gemma 3), read as transformers reads them: {@code rope_parameters.<layerType>}; or, in the older
     * configs, {@code rope_scaling} for the full layers (none for the sliding ones) over the base {@code
     * legacyThetaKey} ({@code rope_theta}, {@code rope_local_base_freq}). Each rotates whole heads.
     *
     * @param layerType {@code full_attention} or {@code sliding_attention}
     * @param legacyThetaKey the top-level field of the base in older configs
     * @param defaultTheta the base when no field gives it
     * @throws IllegalArgumentException naming the field, for a rope type this library does not implement
     */
    public Rope ropeOfLayers(String layerType, String legacyThetaKey, double defaultTheta) {
        JsonObject parameters = new JsonObject();
        String field = "rope_parameters." + layerType;
        if (has("rope_parameters") && json.getAsJsonObject("rope_parameters").get(layerType) instanceof JsonObject own) {
            parameters = own;
        } else if (layerType.equals(FULL) && has("rope_scaling")) {
            parameters = json.getAsJsonObject("rope_scaling");
            field = "rope_scaling";
        }
        return rope(parameters, field, real(parameters, "rope_theta", real(legacyThetaKey, defaultTheta)), 1.0);
    }

    /** The rotary embeddings that {@code parameters}, found at {@code field}, describe over the base {@code theta}. */
    private Rope rope(JsonObject parameters, String field, double theta, double partial) {
        String type = text(parameters, "rope_type", text(parameters, "type", "default"));
        if (!Rope.TYPES.contains(type)) {
            throw refused(field + ".rope_type", "rotary embeddings of type '" + type + "' are not implemented; these "
                    + "are: " + String.join(", ", Rope.TYPES));
        }
        int maxPositions = integer("max_position_embeddings");
        int original = integer("original_max_position_embeddings",
                (int) real(parameters, "original_max_position_embeddings", maxPositions));
        if (type.equals("default")) {
            return new Rope(type, theta, partial, 1, 0, 0, original, maxPositions);
        }
        if (type.equals("yarn") || type.equals("longrope")) {
            // without a factor, transformers takes the ratio of the context lengths
            double factor = real(parameters, "factor", (double) maxPositions / original);
            Double attention = optionalReal(parameters, "attention_factor");
            if (type.equals("yarn")) {
                Rope.Yarn yarn = new Rope.Yarn(nonZero(parameters, "beta_fast", 32), nonZero(parameters, "beta_slow", 1),
                        !parameters.has("truncate") || parameters.get("truncate").getAsBoolean(),
                        attention != null ? attention : Rope.Yarn.attentionFactor(factor,
                                optionalReal(parameters, "mscale"), optionalReal(parameters, "mscale_all_dim")));
                return new Rope(type, theta, partial, factor, 0, 0, original, maxPositions, yarn, null);
            }
            Rope.LongRope longRope = new Rope.LongRope(reals(parameters, field, "short_factor"),
                    reals(parameters, field, "long_factor"),
                    attention != null ? attention : Rope.LongRope.attentionFactor(factor, original));
            return new Rope(type, theta, partial, factor, 0, 0, original, maxPositions, null, longRope);
        }
        double factor = required(parameters, field, "factor");
        if (type.equals("llama3")) {
            return new Rope(type, theta, partial, factor, required(parameters, field, "low_freq_factor"),
                    required(parameters, field, "high_freq_factor"), original, maxPositions);
        }
        return new Rope(type, theta, partial, factor, 0, 0, original, maxPositions);
    }

    /**
     * An error for a field whose value this library does not honour: loading it would give a model that is not
     * the checkpoint's.
     */
    public IllegalArgumentException refused(String key, String why) {
        return new IllegalArgumentException(file + ": \"" + prefix + key + "\" cannot be honoured: " + why);
    }

    private static Double optionalReal(JsonObject parameters, String key) {
        return parameters.has(key) && !parameters.get(key).isJsonNull() ? parameters.get(key).getAsDouble() : null;
    }

    /** {@code key}'s value, or {@code fallback} when it is absent, null or 0 (Python's {@code get(key) or fallback}). */
    private static double nonZero(JsonObject parameters, String key, double fallback) {
        Double value = optionalReal(parameters, key);
        return value == null || value == 0 ? fallback : value;
    }

    private List<Double> reals(JsonObject parameters, String field, String key) {
        if (!parameters.has(key) || !parameters.get(key).isJsonArray()) {
            throw missing(field + "." + key);
        }
        List<Double> values = new ArrayList<>();
        parameters.getAsJsonArray(key).forEach(value -> values.add(value.getAsDouble()));
        return values;
    }

    private double required(JsonObject parameters, String field, String key) {
        if (!parameters.has(key) || parameters.get(key).isJsonNull()) {
            throw missing(field + "." + key);
        }
        return parameters.get(key).getAsDouble();
    }

    private static String text(JsonObject object, String key, String fallback) {
        return object.has(key) && !object.get(key).isJsonNull() ? object.get(key).getAsString() : fallback;
    }

    private static double real(JsonObject object, String key, double fallback) {
        return object.has(key) && !object.get(key).isJsonNull() ? object.get(key).getAsDouble() : fallback;
    }

    private IllegalArgumentException missing(String key) {
        return new IllegalArgumentException(file + " has no \"" + prefix + key + "\", which a "
                + string("model_type", "Hugging Face") + " config needs");
    }

    private IllegalArgumentException invalid(String key, String expected, RuntimeException cause) {
        return new IllegalArgumentException(file + ": \"" + prefix + key + "\" must be " + expected + ", got "
                + json.get(key), cause);
    }

    @Override
    public String toString() {
        return file.toString();
    }
}
