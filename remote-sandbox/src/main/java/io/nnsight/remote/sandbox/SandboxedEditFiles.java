package io.nnsight.remote.sandbox;

import io.nnsight.NNsight;
import io.nnsight.Tensors;
import io.nnsight.TraceBody;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.sandbox.Sandbox;
import io.nnsight.remote.internal.sandbox.SandboxException;
import io.nnsight.remote.internal.sandbox.ShippedCode;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.Packing;
import io.nnsight.spi.CloseMatches;
import io.nnsight.spi.EditFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * Files of exported edits ({@code NNsight.exportEdits} / {@code importEdits}), in the format a job travels to a
 * model server in, and read with the server's checks: the {@link EditFiles} of nnsight, found as a service.
 *
 * <p>A file is {@code NNSEDITS}, a format number, the SHA-256 hash of the rest, and the rest: a zstd-compressed
 * {@link Envelope} of kind {@code EDITS} for the model's key, whose value graph is the static fields' values and
 * then {@code [edits]} ({@link Packing}): the edits' class files (the application's own, sliced to what the edits
 * reach), their captured values, and the static fields their code reads.
 *
 * <p>Reading checks, in order, before any class of the file is defined: the header, the hash (a file changed
 * since it was written is refused), the model's key, and every class against the server's allow-list (a
 * refused class is named with what it used). The classes are then defined in a class loader of their own, as a
 * job's are, and the values read.
 */
public final class SandboxedEditFiles implements EditFiles {
    private static final byte[] MAGIC = "NNSEDITS".getBytes(StandardCharsets.US_ASCII);
    /** Format 2 writes the static fields' values before the edits (format 1 wrote them after). */
    private static final int FORMAT = 2;
    private static final String KIND = "EDITS";
    private static final int HASH_BYTES = 32;
    private static final int HEADER = MAGIC.length + Integer.BYTES + HASH_BYTES;
    /** The most bytes the edits may take uncompressed: the most a Java array holds. */
    private static final long MAX_BYTES = Integer.MAX_VALUE - 8;

    @Override
    public void write(NNsight model, List<TraceBody<?>> edits, Path file) throws IOException {
        List<TraceBody<?>> bodies = new ArrayList<>(edits);
        ClassLoader loader = bodies.get(bodies.size() - 1).getClass().getClassLoader();
        Envelope envelope = Packing.pack(KIND, model, new Object[] {bodies}, loader);
        byte[] payload = Compression.compress(envelope.write());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(HEADER + payload.length);
        bytes.writeBytes(MAGIC);
        bytes.writeBytes(ByteBuffer.allocate(Integer.BYTES).putInt(FORMAT).array());
        bytes.writeBytes(sha256(payload));
        bytes.writeBytes(payload);
        Path absolute = file.toAbsolutePath();
        Path written = Files.createTempFile(absolute.getParent(), absolute.getFileName().toString(), ".part");
        try {
            Files.write(written, bytes.toByteArray());
            Files.move(written, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(written);
        }
    }

    @Override
    public List<TraceBody<?>> read(NNsight model, Path file) throws IOException {
        Envelope envelope = envelope(file, readFile(file));
        if (!envelope.modelKey().equals(model.key())) {
            throw new IllegalArgumentException(file + " holds edits of the model '" + envelope.modelKey() + "', not of '"
                    + model.key() + "': import them into a wrapper of that model");
        }
        ShippedCode code;
        try {
            code = ShippedCode.load(Sandbox.server(), envelope);
        } catch (SandboxException e) {
            throw new IllegalArgumentException("the edits in " + file + " use what imported code may not, so nothing "
                    + "of them was loaded: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the edits in " + file + " are malformed: " + e.getMessage(), e);
        }
        Object edits;
        try {
            edits = code.values(model, 1, "[edits]")[0];
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot read the edits in " + file + ": " + e.getMessage(), e);
        }
        List<TraceBody<?>> bodies = new ArrayList<>();
        if (edits instanceof List<?> list) {
            for (Object edit : list) {
                if (!(edit instanceof TraceBody<?> body)) {
                    throw new IllegalArgumentException("an edit in " + file + " is " + Tensors.describe(edit)
                            + ", not a TraceBody");
                }
                bodies.add(body);
            }
        }
        if (bodies.isEmpty()) {
            throw new IllegalArgumentException(file + " holds no edits");
        }
        return bodies;
    }

    private static byte[] readFile(Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no such file of edits" + closeMatches(file));
        }
    }

    /** The files beside {@code file} with names like its name, as {@code "; did you mean a.nnedits?"}. */
    private static String closeMatches(Path file) {
        Path folder = file.toAbsolutePath().getParent();
        if (folder == null || !Files.isDirectory(folder)) {
            return "";
        }
        List<String> names;
        try (Stream<Path> files = Files.list(folder)) {
            names = files.map(path -> path.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            return "";
        }
        String name = file.getFileName().toString();
        List<String> close = CloseMatches.closest(name, names, 3, Math.max(2, name.length() / 3));
        return close.isEmpty() ? "" : "; did you mean " + String.join(" or ", close) + "?";
    }

    private static Envelope envelope(Path file, byte[] bytes) {
        if (bytes.length < HEADER || !Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new IllegalArgumentException(file + " is not a file of edits: write one with NNsight.exportEdits");
        }
        int format = ByteBuffer.wrap(bytes, MAGIC.length, Integer.BYTES).getInt();
        if (format != FORMAT) {
            throw new IllegalArgumentException(file + " has edits in format " + format + "; this nnsight reads format "
                    + FORMAT + ": export them again with this version");
        }
        byte[] payload = Arrays.copyOfRange(bytes, HEADER, bytes.length);
        if (!MessageDigest.isEqual(sha256(payload), Arrays.copyOfRange(bytes, HEADER - HASH_BYTES, HEADER))) {
            throw new IllegalArgumentException(file + " was changed since it was written (its content does not match "
                    + "its SHA-256 hash): export the edits again");
        }
        Envelope envelope;
        try {
            envelope = Envelope.read(Compression.decompress(payload, MAX_BYTES));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + " is not a file of edits: " + e.getMessage(), e);
        }
        if (!envelope.kind().equals(KIND)) {
            throw new IllegalArgumentException(file + " holds a " + envelope.kind() + " job, not edits");
        }
        return envelope;
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
