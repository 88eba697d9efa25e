package io.nnsight.remote.internal.wire;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The request payload of a job, outside its object graph: what runs ({@code kind}, model), the class files
 * it ships, the lambdas its graph holds, and the graph itself. A plain binary layout, read with bounds on
 * every count and length, because a server reads it from strangers before anything else is checked.
 *
 * @param kind {@code TRACE}, {@code GENERATE} or {@code SESSION}
 * @param modelKey the key of the model the job runs on
 * @param javaFeature the client's Java feature version
 * @param classes class files by binary name
 * @param lambdas the lambdas of the graph, in the order the server makes factories for them
 * @param graph the object graph ({@link ValueGraphs}): input, options, body, static field values
 */
public record Envelope(String kind, String modelKey, int javaFeature, Map<String, byte[]> classes,
        List<LambdaSpec> lambdas, byte[] graph) {
    private static final int MAGIC = 0x4e4e534a; // "NNSJ"
    /** 2 since a job's graph carries its model's aliases ({@link JobForm#renames()}). */
    static final int FORMAT = 2;
    private static final int MAX_CLASSES = 10_000;
    private static final int MAX_LAMBDAS = 10_000;
    private static final Pattern CLASS_NAME = Pattern.compile("[\\p{L}_$][\\p{L}\\p{N}_$]*(\\.[\\p{L}_$][\\p{L}\\p{N}_$]*)*");

    public Envelope {
        classes = Collections.unmodifiableMap(new LinkedHashMap<>(classes));
        lambdas = List.copyOf(lambdas);
    }

    /** The payload's bytes. */
    public byte[] write() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(FORMAT);
            out.writeUTF(kind);
            out.writeUTF(modelKey);
            out.writeInt(javaFeature);
            out.writeInt(classes.size());
            for (Map.Entry<String, byte[]> entry : classes.entrySet()) {
                out.writeUTF(entry.getKey());
                out.writeInt(entry.getValue().length);
                out.write(entry.getValue());
            }
            out.writeInt(lambdas.size());
            for (LambdaSpec spec : lambdas) {
                out.writeUTF(spec.capturingClass());
                out.writeUTF(spec.functionalInterface());
                out.writeUTF(spec.interfaceMethod());
                out.writeUTF(spec.interfaceMethodType());
                out.writeInt(spec.implKind());
                out.writeUTF(spec.implClass());
                out.writeUTF(spec.implName());
                out.writeUTF(spec.implDescriptor());
                out.writeUTF(spec.instantiatedType());
                out.writeInt(spec.capturedCount());
            }
            out.writeInt(graph.length);
            out.write(graph);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * Reads a payload.
     *
     * @throws IllegalArgumentException when the bytes are not a payload of this format, with what is wrong
     */
    public static Envelope read(byte[] payload) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(payload))) {
            String kind = kind(in);
            String modelKey = in.readUTF();
            int javaFeature = in.readInt();
            int classCount = count(in, MAX_CLASSES, "classes");
            Map<String, byte[]> classes = new LinkedHashMap<>();
            for (int i = 0; i < classCount; i++) {
                String name = in.readUTF();
                if (!CLASS_NAME.matcher(name).matches() || classes.containsKey(name)) {
                    throw new IllegalArgumentException("the request ships a class with an invalid or repeated name: "
                            + name);
                }
                classes.put(name, bytes(in, payload.length));
            }
            int lambdaCount = count(in, MAX_LAMBDAS, "lambdas");
            List<LambdaSpec> lambdas = new ArrayList<>();
            for (int i = 0; i < lambdaCount; i++) {
                lambdas.add(new LambdaSpec(in.readUTF(), in.readUTF(), in.readUTF(), in.readUTF(), in.readInt(),
                        in.readUTF(), in.readUTF(), in.readUTF(), in.readUTF(), in.readInt()));
            }
            byte[] graph = bytes(in, payload.length);
            if (in.read() != -1) {
                throw new IllegalArgumentException("the request has bytes after its end");
            }
            return new Envelope(kind, modelKey, javaFeature, classes, lambdas, graph);
        } catch (EOFException e) {
            throw new IllegalArgumentException("the request ends early: it is truncated or not an nnsight job", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("the request cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * The kind of job a payload holds ({@link #kind()}), read from its header only, without the classes and values
     * that {@link #read} reads and copies after it: to tell where a job goes before it is read. Its first {@link
     * io.nnsight.remote.spi.JobExecutor#HEADER_BYTES} bytes are enough for every kind this format writes.
     *
     * @throws IllegalArgumentException when the header is not one of a payload of this format, with what is wrong
     */
    public static String kind(byte[] payload) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(payload))) {
            return kind(in);
        } catch (EOFException e) {
            throw new IllegalArgumentException("the request ends early: it is truncated or not an nnsight job", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("the request cannot be read: " + e.getMessage(), e);
        }
    }

    /** Reads the header up to the kind of job: the magic number, the format (checked) and the kind. */
    private static String kind(DataInputStream in) throws IOException {
        if (in.readInt() != MAGIC) {
            throw new IllegalArgumentException("the request is not an nnsight job");
        }
        int format = in.readInt();
        if (format != FORMAT) {
            throw new IllegalArgumentException("the request has payload format " + format + "; this server reads "
                    + FORMAT + " (the client's nnsight build is " + (format < FORMAT ? "older" : "newer")
                    + " than the server's: use the same build on both)");
        }
        return in.readUTF();
    }

    private static int count(DataInputStream in, int max, String what) throws IOException {
        int count = in.readInt();
        if (count < 0 || count > max) {
            throw new IllegalArgumentException("the request lists " + count + " " + what + "; at most " + max);
        }
        return count;
    }

    private static byte[] bytes(DataInputStream in, int available) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > available) {
            throw new IllegalArgumentException("the request holds a part of " + length + " bytes in " + available);
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return bytes;
    }
}
