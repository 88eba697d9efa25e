package io.nnsight.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache folder of one model repository, laid out exactly as huggingface_hub lays it out:
 *
 * <pre>
 * &lt;cache&gt;/models--&lt;namespace&gt;--&lt;name&gt;/
 *     blobs/&lt;etag&gt;                          the content of each file, named by its ETag
 *     blobs/&lt;etag&gt;.incomplete               a download in progress
 *     refs/&lt;revision&gt;                      the commit hash that a branch or tag pointed to
 *     snapshots/&lt;commit&gt;/&lt;filename&gt;         a relative symbolic link to the blob
 *     .no_exist/&lt;commit&gt;/&lt;filename&gt;         an empty file: the hub said the file does not exist
 * &lt;cache&gt;/.locks/models--&lt;namespace&gt;--&lt;name&gt;/&lt;etag&gt;.lock
 * </pre>
 */
final class RepoCache {
    private static final Logger log = LoggerFactory.getLogger(RepoCache.class);

    private final Path repoDir;
    private final Path lockDir;

    RepoCache(Path cacheDir, String repoId) {
        String folder = folderName(repoId);
        this.repoDir = cacheDir.resolve(folder);
        this.lockDir = cacheDir.resolve(".locks").resolve(folder);
    }

    /** The folder name: {@code models--gpt2}, or {@code models--openai-community--gpt2} with a namespace. */
    static String folderName(String repoId) {
        return "models--" + repoId.replace("/", "--");
    }

    Path blob(String etag) {
        return repoDir.resolve("blobs").resolve(etag);
    }

    Path incompleteBlob(String etag) {
        return repoDir.resolve("blobs").resolve(etag + ".incomplete");
    }

    Path lockFile(String etag) {
        return lockDir.resolve(etag + ".lock");
    }

    Path snapshotDir(String commit) {
        return repoDir.resolve("snapshots").resolve(commit);
    }

    Path snapshotFile(String commit, String filename) {
        return snapshotDir(commit).resolve(filename);
    }

    /**
     * The commit that the cache knows for a revision: the content of {@code refs/<revision>}, else the revision
     * itself when it is a commit hash.
     */
    Optional<String> commitOf(String revision) throws IOException {
        Path ref = ref(revision);
        if (Files.isRegularFile(ref)) {
            String commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            if (!commit.isEmpty()) {
                return Optional.of(commit);
            }
        }
        return HubFile.isCommitHash(revision) ? Optional.of(revision) : Optional.empty();
    }

    /** The file's snapshot path, if the cache has the file at the commit that it knows for the revision. */
    Optional<CachedFile> find(HubFile file) throws IOException {
        Optional<String> commit = commitOf(file.revision());
        if (commit.isEmpty()) {
            return Optional.empty();
        }
        Path path = snapshotFile(commit.get(), file.filename());
        return Files.exists(path) ? Optional.of(new CachedFile(commit.get(), path)) : Optional.empty();
    }

    /** Whether the hub said earlier that the file does not exist at the commit that the cache knows. */
    boolean isKnownMissing(HubFile file) throws IOException {
        Optional<String> commit = commitOf(file.revision());
        return commit.isPresent() && Files.isRegularFile(noExistMarker(commit.get(), file.filename()));
    }

    /** Remembers that the file does not exist at a commit, so that offline calls tell "missing" from "not cached". */
    void markMissing(String commit, String filename) throws IOException {
        Path marker = noExistMarker(commit, filename);
        Files.createDirectories(marker.getParent());
        try {
            Files.createFile(marker);
        } catch (FileAlreadyExistsException e) {
            // remembered already
        }
    }

    /** Records that a branch or tag points to a commit; a commit hash needs no ref. */
    void writeRef(String revision, String commit) throws IOException {
        if (revision.equals(commit)) {
            return;
        }
        Path ref = ref(revision);
        if (Files.isRegularFile(ref) && Files.readString(ref, StandardCharsets.UTF_8).strip().equals(commit)) {
            return;
        }
        Files.createDirectories(ref.getParent());
        Path temp = Files.createTempFile(ref.getParent(), ref.getFileName().toString(), ".tmp");
        try {
            Files.writeString(temp, commit, StandardCharsets.UTF_8);
            moveReplacing(temp, ref);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /**
     * Makes the snapshot path show the blob: a relative symbolic link like {@code ../../blobs/<etag>}, or a copy
     * of the blob where the file system or the operating system's permissions allow no links (Windows without
     * developer mode, some network drives).
     */
    void link(Path snapshotFile, Path blob) throws IOException {
        Path folder = snapshotFile.getParent();
        Files.createDirectories(folder);
        Path temp = folder.resolve(snapshotFile.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try {
            try {
                Files.createSymbolicLink(temp, folder.relativize(blob));
            } catch (UnsupportedOperationException | IOException e) {
                log.debug("Cannot create a symbolic link in {} ({}); copying {} instead", folder, e, blob);
                Files.copy(blob, temp, StandardCopyOption.REPLACE_EXISTING);
            }
            moveReplacing(temp, snapshotFile);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Moves a file over another in one step where the file system can, so that no reader sees a partial file. */
    static void moveReplacing(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(source, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private Path noExistMarker(String commit, String filename) {
        return repoDir.resolve(".no_exist").resolve(commit).resolve(filename);
    }

    private Path ref(String revision) {
        return repoDir.resolve("refs").resolve(revision);
    }

    /** A file of the cache: the commit it belongs to and its snapshot path. */
    record CachedFile(String commit, Path path) { }
}
