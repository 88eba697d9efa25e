package io.nnsight.hub;

import java.io.IOException;
import java.util.Objects;
import java.util.Optional;

/**
 * A file of a Hugging Face Hub repository could not be provided.
 *
 * <p>The message says what went wrong and what to do about it, and names the repository, the revision and
 * the file. Programs that react to the cause rather than show it read {@link #kind()}:
 *
 * <pre>{@code
 * try {
 *     client.download("meta-llama/Llama-3.2-1B", "main", "config.json");
 * } catch (HubException e) {
 *     if (e.kind() == HubException.Kind.ACCESS_DENIED) {
 *         // ask the user for a token, then retry
 *     }
 *     throw e;
 * }
 * }</pre>
 *
 * <p>Failures of the local file system (a full disk, a cache folder without write permission) are not hub
 * failures; they surface as the plain {@link IOException} that the file system raised.
 */
public final class HubException extends IOException {
    /** Why a file could not be provided. */
    public enum Kind {
        /**
         * The hub refused the request (HTTP 401 or 403): the repository is private or gated and no token, or a
         * token without access, was sent.
         */
        ACCESS_DENIED,
        /** The hub reports that the repository does not exist (or is hidden from the sender). */
        REPOSITORY_NOT_FOUND,
        /** The hub reports that the revision (branch, tag or commit) does not exist in the repository. */
        REVISION_NOT_FOUND,
        /**
         * The file does not exist at the revision. A plain HTTP 404 without the hub's {@code X-Error-Code} header
         * is reported with this kind too.
         */
        FILE_NOT_FOUND,
        /** Offline mode is on and the file is not in the cache. */
        NOT_CACHED,
        /** The endpoint or the storage it redirected to could not be reached. */
        NETWORK_ERROR,
        /** The connection broke during the transfer; the partial file is kept and the next call resumes it. */
        INCOMPLETE_DOWNLOAD,
        /** The server answered with an unexpected status or without the headers that the hub always sends. */
        BAD_RESPONSE
    }

    private final Kind kind;
    private final String repoId;
    private final String revision;
    private final String filename;
    private final String missingAtCommit;

    HubException(Kind kind, HubFile file, String message) {
        this(kind, file, message, null, null);
    }

    HubException(Kind kind, HubFile file, String message, Throwable cause) {
        this(kind, file, message, cause, null);
    }

    /** @param missingAtCommit for {@link Kind#FILE_NOT_FOUND}: the commit at which the hub found no such file */
    HubException(Kind kind, HubFile file, String message, Throwable cause, String missingAtCommit) {
        super(message, cause);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.repoId = file.repoId();
        this.revision = file.revision();
        this.filename = file.filename();
        this.missingAtCommit = missingAtCommit;
    }

    /** Why the file could not be provided. */
    public Kind kind() {
        return kind;
    }

    /** The repository that was asked for, like {@code openai-community/gpt2}. */
    public String repoId() {
        return repoId;
    }

    /** The revision that was asked for: a branch, a tag or a commit hash. */
    public String revision() {
        return revision;
    }

    /** The path of the file inside the repository, like {@code config.json}. */
    public String filename() {
        return filename;
    }

    /** The commit at which the hub reported the file missing, if it said; the cache remembers such absences. */
    Optional<String> missingAtCommit() {
        return Optional.ofNullable(missingAtCommit);
    }
}
