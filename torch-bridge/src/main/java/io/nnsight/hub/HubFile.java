package io.nnsight.hub;

import java.util.regex.Pattern;

/**
 * One file of one revision of a model repository, checked to be safe to use in URLs and cache paths.
 *
 * @param repoId like {@code gpt2} or {@code openai-community/gpt2}
 * @param revision a branch, a tag or a commit hash
 * @param filename the path inside the repository, with {@code /} between folders
 */
record HubFile(String repoId, String revision, String filename) {
    /** The rule of huggingface_hub's {@code validate_repo_id}: an optional namespace, then a name. */
    private static final Pattern REPO_ID = Pattern.compile("([\\w.-]+/)?[\\w.-]{1,96}");

    private static final Pattern COMMIT_HASH = Pattern.compile("[0-9a-f]{40}");

    HubFile {
        checkRepoId(repoId);
        checkRelativePath("revision", revision);
        checkRelativePath("file name", filename);
    }

    /** This file at another revision of the same repository. */
    HubFile atRevision(String otherRevision) {
        return new HubFile(repoId, otherRevision, filename);
    }

    /** Another file of the same revision. */
    HubFile sibling(String otherFilename) {
        return new HubFile(repoId, revision, otherFilename);
    }

    /** Whether the revision is a full commit hash, which names content that never changes. */
    boolean revisionIsCommitHash() {
        return isCommitHash(revision);
    }

    /** Names the file for messages: {@code 'config.json' of gpt2 at revision main}. */
    String describe() {
        return "'" + filename + "' of " + repoId + " at revision " + revision;
    }

    static boolean isCommitHash(String value) {
        return COMMIT_HASH.matcher(value).matches();
    }

    static void checkRepoId(String repoId) {
        if (repoId == null
                || !REPO_ID.matcher(repoId).matches()
                || repoId.contains("--")
                || repoId.contains("..")
                || repoId.startsWith("-")
                || repoId.startsWith(".")
                || repoId.endsWith(".git")) {
            throw new IllegalArgumentException("Invalid repository id '" + repoId
                    + "': expected 'name' or 'namespace/name' made of letters, digits, '-', '_' and '.',"
                    + " like 'openai-community/gpt2'");
        }
    }

    /** Rejects values that would escape their folder once used as a relative path of the cache. */
    private static void checkRelativePath(String what, String value) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("The " + what + " must not be empty");
        }
        if (value.startsWith("/") || value.contains("\\") || value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("Invalid " + what + " '" + value
                    + "': expected a relative path with '/' between folders");
        }
        for (String segment : value.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("Invalid " + what + " '" + value
                        + "': empty, '.' and '..' path segments are not allowed");
            }
        }
    }
}
