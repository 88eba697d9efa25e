package io.nnsight.safetensors;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes safetensors files for tests, the way the reference implementation does: the header padded with
 * spaces to a multiple of 8 bytes, tensors stored one after the other in the order they were added.
 *
 * <pre>{@code
 * new SafeTensorsWriter().f32("w", new long[] {2}, 1f, 2f).metadata("format", "pt").write(file);
 * }</pre>
 */
public final class SafeTensorsWriter {
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final JsonObject tensors = new JsonObject();
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();

    /** Adds an entry to {@code "__metadata__"}. */
    SafeTensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor given as raw little-endian bytes; neither dtype nor size is checked. */
    SafeTensorsWriter raw(String name, String dtype, long[] shape, byte[] bytes) {
        JsonObject entry = new JsonObject();
        entry.addProperty("dtype", dtype);
        JsonArray shapeJson = new JsonArray();
        for (long size : shape) {
            shapeJson.add(size);
        }
        entry.add("shape", shapeJson);
        JsonArray offsets = new JsonArray();
        offsets.add(data.size());
        offsets.add(data.size() + bytes.length);
        entry.add("data_offsets", offsets);
        tensors.add(name, entry);
        data.writeBytes(bytes);
        return this;
    }

    /** Adds float32 values. */
    public SafeTensorsWriter f32(String name, long[] shape, float... values) {
        ByteBuffer bytes = littleEndian(values.length * 4);
        for (float value : values) {
            bytes.putFloat(value);
        }
        return raw(name, "F32", shape, bytes.array());
    }

    /** Adds float16 values; each must be exactly representable as a normal float16 (or zero). */
    SafeTensorsWriter f16(String name, long[] shape, float... values) {
        ByteBuffer bytes = littleEndian(values.length * 2);
        for (float value : values) {
            bytes.putShort(toFloat16(value));
        }
        return raw(name, "F16", shape, bytes.array());
    }

    /** Adds bfloat16 values; each must be exactly representable (the low 16 bits of its float32 zero). */
    SafeTensorsWriter bf16(String name, long[] shape, float... values) {
        ByteBuffer bytes = littleEndian(values.length * 2);
        for (float value : values) {
            int bits = Float.floatToIntBits(value);
            if ((bits & 0xFFFF) != 0) {
                throw new IllegalArgumentException(value + " is not exactly representable as bfloat16");
            }
            bytes.putShort((short) (bits >>> 16));
        }
        return raw(name, "BF16", shape, bytes.array());
    }

    SafeTensorsWriter i64(String name, long[] shape, long... values) {
        ByteBuffer bytes = littleEndian(values.length * 8);
        for (long value : values) {
            bytes.putLong(value);
        }
        return raw(name, "I64", shape, bytes.array());
    }

    /** Writes the file and returns it. */
    public Path write(Path file) throws IOException {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject metadataJson = new JsonObject();
            metadata.forEach(metadataJson::addProperty);
            header.add("__metadata__", metadataJson);
        }
        tensors.entrySet().forEach(entry -> header.add(entry.getKey(), entry.getValue()));
        StringBuilder json = new StringBuilder(header.toString());
        while (json.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
            json.append(' ');
        }
        return writeRaw(file, json.toString().getBytes(StandardCharsets.UTF_8), data.toByteArray());
    }

    /** Writes a file made of the 8-byte little-endian length of {@code header}, {@code header}, and {@code data}. */
    private static Path writeRaw(Path file, byte[] header, byte[] data) throws IOException {
        ByteBuffer bytes = littleEndian(8 + header.length + data.length);
        bytes.putLong(header.length).put(header).put(data);
        return Files.write(file, bytes.array());
    }

    private static ByteBuffer littleEndian(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static short toFloat16(float value) {
        int bits = Float.floatToIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xFF;
        int mantissa = bits & 0x7FFFFF;
        if (exponent == 0 && mantissa == 0) {
            return (short) sign;
        }
        int halfExponent = exponent - 127 + 15;
        if (halfExponent <= 0 || halfExponent >= 31 || (mantissa & 0x1FFF) != 0) {
            throw new IllegalArgumentException(value + " is not exactly representable as a normal float16");
        }
        return (short) (sign | (halfExponent << 10) | (mantissa >>> 13));
    }
}
