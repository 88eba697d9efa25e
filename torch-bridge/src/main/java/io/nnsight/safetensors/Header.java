package io.nnsight.safetensors;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The parsed and checked header of a safetensors file.
 *
 * <p>A safetensors file is an 8-byte little-endian unsigned header length {@code N}, then {@code N} bytes
 * of UTF-8 JSON, then the data section. The JSON maps each tensor name to {@code {"dtype", "shape",
 * "data_offsets": [begin, end]}}, offsets counted from the start of the data section, and may hold a
 * {@code "__metadata__"} map of strings.
 *
 * @param dataStart the file position of the data section, {@code 8 + N}
 * @param tensors every tensor, in header order
 * @param metadata the {@code "__metadata__"} map, empty if the header has none
 */
record Header(long dataStart, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
    private static final int LENGTH_BYTES = 8;
    /** The largest header accepted, as in the reference implementation: a guard against reading garbage. */
    private static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final String METADATA_KEY = "__metadata__";

    /** Reads and checks the header of {@code file}, open as {@code channel}. */
    static Header read(Path file, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < LENGTH_BYTES) {
            throw new SafeTensorsFormatException(file, "the file is " + fileSize
                    + " bytes long, shorter than the 8-byte header length that starts a safetensors file");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, channel, lengthBytes, 0);
        long headerLength = lengthBytes.getLong(0);
        long available = fileSize - LENGTH_BYTES;
        if (headerLength < 0 || headerLength > available) {
            throw new SafeTensorsFormatException(file, "the header length is " + Long.toUnsignedString(headerLength)
                    + " bytes but only " + available + " bytes follow it; the file is truncated or not safetensors");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw new SafeTensorsFormatException(file, "the header length is " + headerLength
                    + " bytes, more than the " + MAX_HEADER_BYTES + " a safetensors header may have");
        }
        ByteBuffer json = ByteBuffer.allocate((int) headerLength);
        readFully(file, channel, json, LENGTH_BYTES);
        json.flip();
        JsonObject root = Json.parseObject(file, json, "the header");

        long dataSize = available - headerLength;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonElement> entry : root.entrySet()) {
            if (entry.getKey().equals(METADATA_KEY)) {
                metadata = metadata(file, entry.getValue());
            } else {
                TensorInfo info = tensorInfo(file, entry.getKey(), entry.getValue(), dataSize);
                tensors.put(info.name(), info);
            }
        }
        return new Header(LENGTH_BYTES + headerLength, Collections.unmodifiableMap(tensors), metadata);
    }

    /** Fills {@code buffer} from {@code channel} starting at {@code position}. */
    static void readFully(Path file, FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long next = position;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, next);
            if (read < 0) {
                throw new EOFException(file + ": the file ended at byte " + next + " while " + buffer.remaining()
                        + " more bytes were expected; was it shortened after it was opened?");
            }
            next += read;
        }
    }

    private static Map<String, String> metadata(Path file, JsonElement value) throws SafeTensorsFormatException {
        if (!value.isJsonObject()) {
            throw new SafeTensorsFormatException(file, "\"__metadata__\" must be a JSON object of strings but is "
                    + Json.abbreviate(value));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> entry : value.getAsJsonObject().entrySet()) {
            String text = Json.stringOrNull(entry.getValue());
            if (text == null) {
                throw new SafeTensorsFormatException(file, "\"__metadata__\" entry \"" + entry.getKey()
                        + "\" must be a string but is " + Json.abbreviate(entry.getValue()));
            }
            metadata.put(entry.getKey(), text);
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static TensorInfo tensorInfo(Path file, String name, JsonElement value, long dataSize)
            throws SafeTensorsFormatException {
        String tensor = "tensor \"" + name + "\"";
        if (!value.isJsonObject()) {
            throw new SafeTensorsFormatException(file, tensor + " must be described by a JSON object but is "
                    + Json.abbreviate(value));
        }
        JsonObject fields = value.getAsJsonObject();

        String dtypeName = Json.stringOrNull(fields.get("dtype"));
        if (dtypeName == null) {
            throw new SafeTensorsFormatException(file, tensor + " has no string \"dtype\"");
        }
        DType dtype = Arrays.stream(DType.values())
                .filter(candidate -> candidate.name().equals(dtypeName))
                .findFirst()
                .orElseThrow(() -> new SafeTensorsFormatException(file, tensor + " has dtype \"" + dtypeName
                        + "\", which this reader does not support; supported: " + Arrays.toString(DType.values())));

        long[] shape = Json.nonNegativeLongsOrNull(fields.get("shape"));
        if (shape == null) {
            throw new SafeTensorsFormatException(file, tensor + " has shape " + Json.abbreviate(fields.get("shape"))
                    + "; a shape must be a list of non-negative integers");
        }
        long[] offsets = Json.nonNegativeLongsOrNull(fields.get("data_offsets"));
        if (offsets == null || offsets.length != 2 || offsets[0] > offsets[1]) {
            throw new SafeTensorsFormatException(file, tensor + " has data_offsets "
                    + Json.abbreviate(fields.get("data_offsets")) + "; expected [begin, end] with 0 <= begin <= end");
        }
        String offsetsText = "data_offsets " + Arrays.toString(offsets);
        if (offsets[1] > dataSize) {
            throw new SafeTensorsFormatException(file, tensor + " has " + offsetsText
                    + ", past the end of the data section, which holds " + dataSize + " bytes");
        }
        TensorInfo info = new TensorInfo(name, dtype, shape, offsets[0], offsets[1]);
        String needed = dtype + " " + Arrays.toString(shape) + " needs ";
        try {
            long expected = Math.multiplyExact(info.numel(), dtype.byteSize());
            if (expected != info.byteSize()) {
                throw new SafeTensorsFormatException(file, tensor + " has " + offsetsText + " (" + info.byteSize()
                        + " bytes) but " + needed + expected + " bytes");
            }
        } catch (ArithmeticException e) {
            throw new SafeTensorsFormatException(file, tensor + " has " + offsetsText + " but " + needed
                    + "more than 2^63 bytes");
        }
        return info;
    }
}
