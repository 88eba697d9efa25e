package io.nnsight.server.ray.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a replica answers for a job, as the bytes that travel back through Ray (only {@code byte[]} crosses: Ray's
 * object serializer needs the JVM opened to reflection for anything else): the result, or the failure's message
 * and whether the model can serve no more, and the lines the job printed.
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

    public byte[] write() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(result != null ? RESULT : FAILED);
            out.writeBoolean(modelUnusable);
            out.writeInt(log.size());
            for (String line : log) {
                writeBytes(out, line.getBytes(StandardCharsets.UTF_8));
            }
            writeBytes(out, result != null ? result : failure.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static Outcome read(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int kind = in.readByte();
            boolean unusable = in.readBoolean();
            int lines = in.readInt();
            List<String> log = new ArrayList<>(lines);
            for (int i = 0; i < lines; i++) {
                log.add(new String(readBytes(in), StandardCharsets.UTF_8));
            }
            byte[] body = readBytes(in);
            return kind == RESULT ? succeeded(body, log) : failed(new String(body, StandardCharsets.UTF_8), unusable, log);
        } catch (IOException e) {
            throw new IllegalStateException("a replica's answer is malformed: " + e, e);
        }
    }

    private static void writeBytes(DataOutputStream out, byte[] data) throws IOException {
        out.writeInt(data.length);
        out.write(data);
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        return in.readNBytes(in.readInt());
    }
}
