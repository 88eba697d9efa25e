package io.nnsight.server.ray.internal;

import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a replica answers for one job, a part of its {@link ReplicaAnswer}: the result, or the failure's message and
 * whether the model can serve no more, and the lines the job printed.
 *
 * @param result the result payload, or {@code null} when the job failed
 * @param failure the message for the user when it failed
 * @param modelUnusable whether the replica's model can serve no more (its weights could not be restored)
 * @param log the lines the job printed, in order
 */
public record Outcome(byte[] result, String failure, boolean modelUnusable, List<String> log) {
    private static final int RESULT = 0;
    private static final int FAILED = 1;

    public static Outcome succeeded(byte[] result, List<String> log) {
        return new Outcome(result, null, false, log);
    }

    public static Outcome failed(String message, boolean modelUnusable, List<String> log) {
        return new Outcome(null, message == null ? "the job failed, saying nothing" : message, modelUnusable, log);
    }

    void write(DataOutput out) throws IOException {
        out.writeByte(result != null ? RESULT : FAILED);
        out.writeBoolean(modelUnusable);
        out.writeInt(log.size());
        for (String line : log) {
            writeBytes(out, line.getBytes(StandardCharsets.UTF_8));
        }
        writeBytes(out, result != null ? result : failure.getBytes(StandardCharsets.UTF_8));
    }

    static Outcome read(DataInputStream in) throws IOException {
        int kind = in.readByte();
        boolean unusable = in.readBoolean();
        int lines = in.readInt();
        List<String> log = new ArrayList<>(Math.min(lines, 1024));
        for (int i = 0; i < lines; i++) {
            log.add(new String(readBytes(in), StandardCharsets.UTF_8));
        }
        byte[] body = readBytes(in);
        return kind == RESULT ? succeeded(body, log) : failed(new String(body, StandardCharsets.UTF_8), unusable, log);
    }

    /** Writes {@code data} with its length first, as {@link #readBytes} reads it. */
    static void writeBytes(DataOutput out, byte[] data) throws IOException {
        out.writeInt(data.length);
        out.write(data);
    }

    /** Reads what {@link #writeBytes} wrote. */
    static byte[] readBytes(DataInputStream in) throws IOException {
        int length = in.readInt();
        byte[] data = in.readNBytes(Math.max(length, 0));
        if (length < 0 || data.length != length) {
            throw new IOException("a field of " + length + " bytes ends after " + data.length);
        }
        return data;
    }
}
