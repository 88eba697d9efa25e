package io.nnsight.safetensors;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Strict JSON parsing with errors that name the file being read. */
final class Json {
    private Json() {}

    /**
     * Parses {@code utf8} as one strict JSON object (no comments, no trailing data, no NaN).
     *
     * @param what how error messages call the document, for example "the header"
     */
    static JsonObject parseObject(Path file, ByteBuffer utf8, String what) throws SafeTensorsFormatException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(utf8).toString();
        } catch (CharacterCodingException e) {
            throw new SafeTensorsFormatException(file, what + " is not valid UTF-8", e);
        }
        if (text.isBlank()) {
            throw new SafeTensorsFormatException(file, what + " is empty");
        }
        JsonReader reader = new JsonReader(new StringReader(text));
        reader.setStrictness(Strictness.STRICT);
        JsonElement root;
        try {
            root = JsonParser.parseReader(reader);
        } catch (JsonParseException e) {
            Throwable reason = e.getCause() != null ? e.getCause() : e;
            throw new SafeTensorsFormatException(file, what + " is not valid JSON: " + describe(reason), e);
        }
        if (!atEnd(reader)) {
            throw new SafeTensorsFormatException(file, what + " has data after its JSON object");
        }
        if (!root.isJsonObject()) {
            throw new SafeTensorsFormatException(file, what + " is not a JSON object but " + abbreviate(root));
        }
        return root.getAsJsonObject();
    }

    private static boolean atEnd(JsonReader reader) {
        try {
            return reader.peek() == JsonToken.END_DOCUMENT;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Returns Gson's description of a syntax error without what only helps Gson's own users: the advice to
     * parse leniently and the link to its troubleshooting guide.
     */
    private static String describe(Throwable syntaxError) {
        String message = String.valueOf(syntaxError.getMessage());
        int end = message.indexOf('\n');
        return (end < 0 ? message : message.substring(0, end))
                .replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON");
    }

    /** Returns {@code element} as a string, or null if it is not a JSON string. */
    static String stringOrNull(JsonElement element) {
        return element != null && element.isJsonPrimitive() && element.getAsJsonPrimitive().isString()
                ? element.getAsString()
                : null;
    }

    /** Returns {@code element} as an array of non-negative integers, or null if it is anything else. */
    static long[] nonNegativeLongsOrNull(JsonElement element) {
        if (element == null || !element.isJsonArray()) {
            return null;
        }
        JsonArray array = element.getAsJsonArray();
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) {
            JsonElement item = array.get(i);
            if (!item.isJsonPrimitive() || !item.getAsJsonPrimitive().isNumber()) {
                return null;
            }
            try {
                values[i] = new BigDecimal(item.getAsString()).longValueExact();
            } catch (ArithmeticException e) {
                return null;
            }
            if (values[i] < 0) {
                return null;
            }
        }
        return values;
    }

    /** Returns the JSON text of {@code element}, cut to a length that fits in an error message. */
    static String abbreviate(JsonElement element) {
        String text = String.valueOf(element);
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }
}
