package io.nnsight.instrument.statemachine;

import io.nnsight.spi.NnsightPackages;
import io.nnsight.spi.statemachine.StateMachine;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state-machine compiler's results on disk, so that the next JVM start skips the work: one file per
 * class, named by a SHA-256 of the class file as loaded and of the compiler's own class files (its version,
 * with the runtime's {@code StateMachine} that compiled code calls), holding the SHA-256 of each other class
 * file the result depends on (the helpers it calls, read by {@link CallGraph}), then the rewritten class
 * file, or nothing when the compiler left the class as it was. A result whose dependencies have changed is
 * compiled again.
 *
 * <p>The folder is {@code -Dnnsight.cache.dir}, else {@code $XDG_CACHE_HOME/nnsight/statemachines}, else
 * {@code ~/.cache/nnsight/statemachines}; {@code -Dnnsight.cache.dir=off} turns the cache off. Files are
 * written to a temporary name and moved into place, so a reader never sees half a file; a file that cannot be
 * read or written is skipped (one debug line) and the class compiled as if there were no cache.
 */
final class CompiledClassCache {
    private static final Logger LOG = LoggerFactory.getLogger(CompiledClassCache.class);
    /** The compiler's own classes (and their nested ones): a change to any makes every earlier result stale. */
    private static final Class<?>[] COMPILER = {StateMachineCompiler.class, CallGraph.class, MethodRewrite.class,
        LibraryCode.class, ClassHierarchy.class, HierarchyVerifier.class, FrameWriter.class, CompiledClassCache.class,
        StateMachine.class, NnsightPackages.class};
    private static final int HASH_LENGTH = 32;

    private final Path folder;
    private final byte[] version;

    CompiledClassCache(Path folder) {
        this.folder = folder;
        this.version = folder == null ? new byte[0] : compilerVersion();
    }

    /** The cache of the system properties and environment; a cache that stores nothing when turned off. */
    static CompiledClassCache configured() {
        String setting = System.getProperty("nnsight.cache.dir");
        if ("off".equalsIgnoreCase(setting)) {
            return new CompiledClassCache(null);
        }
        if (setting != null && !setting.isBlank()) {
            return new CompiledClassCache(Path.of(setting));
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return new CompiledClassCache(base.resolve("nnsight").resolve("statemachines"));
    }

    /**
     * The earlier result for {@code classFile}: the rewritten class file, an empty array when the class was
     * left as it was, or nothing when there is none or when a class file it depended on (read through {@code
     * loader}) has changed since.
     */
    Optional<byte[]> get(byte[] classFile, ClassLoader loader) {
        if (folder == null) {
            return Optional.empty();
        }
        Path file = folder.resolve(key(classFile));
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(Files.readAllBytes(file)))) {
            int count = in.readInt();
            for (int i = 0; i < count; i++) {
                String name = in.readUTF();
                byte[] hash = in.readNBytes(HASH_LENGTH);
                if (!Arrays.equals(hash, hashOf(name, loader))) {
                    return Optional.empty();
                }
            }
            return Optional.of(in.readAllBytes());
        } catch (IOException e) {
            LOG.debug("nnsight agent: cannot read the compiled class {}: {}", file, e.toString());
            return Optional.empty();
        }
    }

    /**
     * Stores the result for {@code classFile}: its rewrite, or {@code null} when it was left as it was, and
     * the class files of other classes it depends on, by internal name.
     */
    void put(byte[] classFile, byte[] rewritten, Map<String, byte[]> dependencies) {
        if (folder == null) {
            return;
        }
        Path file = folder.resolve(key(classFile));
        try {
            ByteArrayOutputStream content = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(content)) {
                out.writeInt(dependencies.size());
                for (Map.Entry<String, byte[]> dependency : dependencies.entrySet()) {
                    out.writeUTF(dependency.getKey());
                    out.write(sha256().digest(dependency.getValue()));
                }
                if (rewritten != null) {
                    out.write(rewritten);
                }
            }
            Files.createDirectories(folder);
            Path temporary = Files.createTempFile(folder, file.getFileName().toString(), ".tmp");
            Files.write(temporary, content.toByteArray());
            try {
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            LOG.debug("nnsight agent: cannot store the compiled class {}: {}", file, e.toString());
        }
    }

    /** The hash of class {@code name}'s file as {@code loader} reads it now; empty when it has none. */
    private static byte[] hashOf(String name, ClassLoader loader) {
        try (InputStream in = loader.getResourceAsStream(name + ".class")) {
            return in == null ? new byte[0] : sha256().digest(in.readAllBytes());
        } catch (IOException e) {
            return new byte[0];
        }
    }

    private String key(byte[] classFile) {
        MessageDigest digest = sha256();
        digest.update(version);
        digest.update(classFile);
        return HexFormat.of().formatHex(digest.digest()) + ".class";
    }

    private static byte[] compilerVersion() {
        MessageDigest digest = sha256();
        for (Class<?> type : COMPILER) {
            addClassFiles(digest, type);
        }
        return digest.digest();
    }

    private static void addClassFiles(MessageDigest digest, Class<?> type) {
        String file = type.getName().substring(type.getName().lastIndexOf('.') + 1) + ".class";
        try (InputStream in = type.getResourceAsStream(file)) {
            digest.update(type.getName().getBytes(StandardCharsets.UTF_8));
            if (in != null) {
                digest.update(in.readAllBytes());
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the compiler's class " + type.getName(), e);
        }
        for (Class<?> nested : type.getDeclaredClasses()) {
            addClassFiles(digest, nested);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
