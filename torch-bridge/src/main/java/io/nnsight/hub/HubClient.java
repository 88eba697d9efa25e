package io.nnsight.hub;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.nnsight.hub.RepoCache.CachedFile;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads files of Hugging Face Hub model repositories into the cache that huggingface_hub uses, so that Java
 * and Python programs share the downloads.
 *
 * <pre>{@code
 * HubClient hub = HubClient.fromEnvironment();
 * Path config = hub.download("openai-community/gpt2", "main", "config.json");
 * Path model = hub.downloadModel("openai-community/gpt2", "main");   // the snapshot folder
 * Path weights = model.resolve("model.safetensors");
 * }</pre>
 *
 * <p>Each call returns a path inside {@code snapshots/<commit>/} of the repository's cache folder (see
 * {@link HubSettings#cacheDir()}), where every file is a symbolic link to the content in {@code blobs/}. A call
 *
 * <ol>
 *   <li>returns the cached file without using the network when the revision is a commit hash that the cache has,
 *       or when offline mode is on ({@code HF_HUB_OFFLINE=1});
 *   <li>otherwise asks the hub with a {@code HEAD} request which commit the revision is at and which content the
 *       file has, and downloads the content only if the cache lacks it, so that a moved branch is followed;
 *   <li>falls back to the cached file, with a warning, when the hub cannot be reached.
 * </ol>
 *
 * <p>Downloads resume where an interrupted one stopped, follow redirects to the storage of large files (without
 * sending the token there), and report their progress to a {@link DownloadListener}, by default
 * {@link DownloadListener#consoleProgressBar()}. Concurrent downloads of one file, by threads or by other JVMs
 * sharing the cache, wait for each other instead of writing over each other.
 *
 * <p>A revision is a branch, a tag or a commit hash; {@code null} means {@value #DEFAULT_REVISION}. Failures raise a
 * {@link HubException} whose message says what to do. A client is immutable and safe to share between threads.
 */
public final class HubClient {
    /** The revision used when none is given: the default branch of Hugging Face repositories. */
    public static final String DEFAULT_REVISION = "main";

    private static final Logger log = LoggerFactory.getLogger(HubClient.class);

    private static final String CONFIG = "config.json";
    /** The files besides the configuration and the weights that {@link #downloadModel} fetches if they exist. */
    private static final List<String> OPTIONAL_MODEL_FILES =
            List.of("generation_config.json", "tokenizer.json", "tokenizer_config.json");
    private static final String SINGLE_FILE_WEIGHTS = "model.safetensors";
    private static final String SHARDED_WEIGHTS_INDEX = "model.safetensors.index.json";

    private final HubSettings settings;
    private final HubHttp http;
    private final DownloadListener listener;

    private HubClient(HubSettings settings, HubHttp http, DownloadListener listener) {
        this.settings = settings;
        this.http = http;
        this.listener = listener;
    }

    /** A client configured by the environment variables described in {@link HubSettings}. */
    public static HubClient fromEnvironment() {
        return create(HubSettings.fromEnvironment());
    }

    /** A client with the given settings, showing progress with {@link DownloadListener#consoleProgressBar()}. */
    public static HubClient create(HubSettings settings) {
        Objects.requireNonNull(settings, "settings");
        return new HubClient(settings, new HubHttp(settings), DownloadListener.consoleProgressBar());
    }

    /** A client like this one that reports download progress to {@code listener} instead. */
    public HubClient withListener(DownloadListener listener) {
        return new HubClient(settings, http, Objects.requireNonNull(listener, "listener"));
    }

    /** The settings of this client. */
    public HubSettings settings() {
        return settings;
    }

    /**
     * Returns a file of a repository, downloading it unless the cache holds the revision's current version.
     *
     * @param repoId the repository, like {@code gpt2} or {@code openai-community/gpt2}
     * @param revision a branch, a tag or a commit hash; {@code null} for {@value #DEFAULT_REVISION}
     * @param filename the path of the file inside the repository, like {@code config.json} or {@code onnx/model.onnx}
     * @return the file's path in the snapshot folder of the commit that the revision is at
     * @throws HubException if the file cannot be provided; the message says why and what to do
     * @throws IOException if the cache folder cannot be written
     * @throws IllegalArgumentException if the repository id, the revision or the file name is malformed
     */
    public Path download(String repoId, String revision, String filename) throws IOException {
        return fetch(new HubFile(repoId, orDefault(revision), filename)).path();
    }

    /**
     * Like {@link #download}, for files that a repository may lack: returns empty where {@code download} would
     * fail with {@link HubException.Kind#FILE_NOT_FOUND}. A missing repository or revision still fails, and so does
     * a file that is not cached in offline mode unless an earlier online call found that the file does not exist.
     *
     * @param repoId the repository, like {@code gpt2} or {@code openai-community/gpt2}
     * @param revision a branch, a tag or a commit hash; {@code null} for {@value #DEFAULT_REVISION}
     * @param filename the path of the file inside the repository, like {@code generation_config.json}
     * @return the file's path in the snapshot folder, or empty if the repository has no such file at the revision
     * @throws HubException if the file cannot be provided for another reason than its absence
     * @throws IOException if the cache folder cannot be written
     * @throws IllegalArgumentException if the repository id, the revision or the file name is malformed
     */
    public Optional<Path> downloadIfExists(String repoId, String revision, String filename) throws IOException {
        return fetchIfExists(new HubFile(repoId, orDefault(revision), filename)).map(CachedFile::path);
    }

    /**
     * Downloads what it takes to run a model stored in safetensors format: {@code config.json}; if the repository
     * has them, {@code generation_config.json}, {@code tokenizer.json} and {@code tokenizer_config.json}; then the
     * weights, either {@code model.safetensors} or {@code model.safetensors.index.json} and every shard that its
     * {@code weight_map} names.
     *
     * <p>All files come from the commit that the revision is at when {@code config.json} is fetched, even if the
     * branch moves during the download.
     *
     * @param repoId the repository, like {@code openai-community/gpt2}
     * @param revision a branch, a tag or a commit hash; {@code null} for {@value #DEFAULT_REVISION}
     * @return the snapshot folder of the commit, which holds the files under their names in the repository
     * @throws HubException if a file cannot be provided, or the repository has no safetensors weights
     * @throws IOException if the cache folder cannot be written
     * @throws IllegalArgumentException if the repository id or the revision is malformed
     */
    public Path downloadModel(String repoId, String revision) throws IOException {
        CachedFile config = fetchDescription(repoId, revision);
        HubFile atCommit = new HubFile(repoId, config.commit(), CONFIG);
        if (fetchIfExists(atCommit.sibling(SINGLE_FILE_WEIGHTS)).isEmpty()) {
            HubFile index = atCommit.sibling(SHARDED_WEIGHTS_INDEX);
            Optional<CachedFile> indexFile = fetchIfExists(index);
            if (indexFile.isEmpty()) {
                throw new HubException(HubException.Kind.FILE_NOT_FOUND, index, "Repository " + repoId
                        + " has neither " + SINGLE_FILE_WEIGHTS + " nor " + SHARDED_WEIGHTS_INDEX + " at revision "
                        + orDefault(revision) + " (commit " + config.commit() + "): it has no weights in"
                        + " safetensors format. Pick a revision or a conversion of the model that has them.");
            }
            for (HubFile shard : shards(index, indexFile.get().path())) {
                fetch(shard);
            }
        }
        return config.path().getParent();
    }

    /**
     * Downloads what describes a model, without its weights: {@code config.json} and, if the repository has them,
     * {@code generation_config.json}, {@code tokenizer.json} and {@code tokenizer_config.json}, all from one commit.
     * Enough to build the model on the meta device and scan it ({@code LanguageModel.Options.device("meta")}).
     *
     * @return the snapshot folder of the commit
     * @throws HubException if {@code config.json} cannot be provided
     * @throws IOException if the cache folder cannot be written
     * @throws IllegalArgumentException if the repository id or the revision is malformed
     */
    public Path downloadModelWithoutWeights(String repoId, String revision) throws IOException {
        return fetchDescription(repoId, revision).path().getParent();
    }

    /** {@code config.json} at the revision, and the optional description files at its commit. */
    private CachedFile fetchDescription(String repoId, String revision) throws IOException {
        CachedFile config = fetch(new HubFile(repoId, orDefault(revision), CONFIG));
        HubFile atCommit = new HubFile(repoId, config.commit(), CONFIG);
        for (String optional : OPTIONAL_MODEL_FILES) {
            fetchIfExists(atCommit.sibling(optional));
        }
        return config;
    }

    private static String orDefault(String revision) {
        return revision == null ? DEFAULT_REVISION : revision;
    }

    private Optional<CachedFile> fetchIfExists(HubFile file) throws IOException {
        try {
            return Optional.of(fetch(file));
        } catch (HubException e) {
            if (e.kind() == HubException.Kind.FILE_NOT_FOUND) {
                log.debug("{} does not exist", file.describe());
                return Optional.empty();
            }
            throw e;
        }
    }

    /** The heart of the client: the cache when it suffices, else a {@code HEAD} and, if needed, a download. */
    private CachedFile fetch(HubFile file) throws IOException {
        RepoCache cache = new RepoCache(settings.cacheDir(), file.repoId());
        if (settings.offline()) {
            return fromCache(cache, file).orElseThrow(() -> new HubException(HubException.Kind.NOT_CACHED, file,
                    "File " + file.describe() + " is not in the cache (" + settings.cacheDir() + ") and offline mode"
                    + " is on (HF_HUB_OFFLINE), so it cannot be downloaded. Download it once with the network"
                    + " (unset HF_HUB_OFFLINE), or point HF_HUB_CACHE to a cache that has it."));
        }
        if (file.revisionIsCommitHash()) {
            Optional<CachedFile> cached = fromCache(cache, file); // a commit's files never change
            if (cached.isPresent()) {
                return cached.get();
            }
        }
        HubHttp.FileMetadata metadata;
        try {
            metadata = http.head(file);
        } catch (HubException e) {
            if (e.kind() == HubException.Kind.NETWORK_ERROR) {
                Optional<CachedFile> cached = fromCache(cache, file);
                if (cached.isPresent()) {
                    log.warn("{} Using the cached {}.", e.getMessage(), cached.get().path());
                    return cached.get();
                }
            }
            if (e.missingAtCommit().isPresent()) {
                cache.markMissing(e.missingAtCommit().get(), file.filename());
                cache.writeRef(file.revision(), e.missingAtCommit().get());
            }
            throw e;
        }
        Path blob = cache.blob(metadata.etag());
        if (!Files.exists(blob)) {
            downloadBlob(cache, file, metadata, blob);
        }
        Path snapshotFile = cache.snapshotFile(metadata.commit(), file.filename());
        if (!Files.exists(snapshotFile)) {
            cache.link(snapshotFile, blob);
        }
        cache.writeRef(file.revision(), metadata.commit());
        return new CachedFile(metadata.commit(), snapshotFile);
    }

    /** Downloads a blob that the cache lacks, unless another thread or JVM downloads it first. */
    private void downloadBlob(RepoCache cache, HubFile file, HubHttp.FileMetadata metadata, Path blob)
            throws IOException {
        BlobLock lock = BlobLock.acquire(cache.lockFile(metadata.etag()));
        try {
            if (!Files.exists(blob)) { // the other may have finished while this one waited for the lock
                log.debug("Downloading {} (commit {}) from {}", file.describe(), metadata.commit(),
                        metadata.downloadUrl().getHost());
                new ResumableDownload(http, listener)
                        .run(file, metadata.downloadUrl(), cache.incompleteBlob(metadata.etag()), blob);
            }
        } finally {
            lock.close();
        }
    }

    /**
     * The cached file, or empty if the cache does not have it. Fails with {@link HubException.Kind#FILE_NOT_FOUND}
     * when the cache remembers that the hub said the file does not exist.
     */
    private static Optional<CachedFile> fromCache(RepoCache cache, HubFile file) throws IOException {
        Optional<CachedFile> cached = cache.find(file);
        if (cached.isEmpty() && cache.isKnownMissing(file)) {
            throw new HubException(HubException.Kind.FILE_NOT_FOUND, file, "File " + file.describe()
                    + " does not exist: the hub said so when it was last asked, and the cache remembers it.");
        }
        return cached;
    }

    /** The distinct files that the index's {@code weight_map} names, sorted by name. */
    private static SortedSet<HubFile> shards(HubFile index, Path indexPath) throws IOException {
        try (Reader reader = Files.newBufferedReader(indexPath, StandardCharsets.UTF_8)) {
            JsonElement weightMap = JsonParser.parseReader(reader).getAsJsonObject().get("weight_map");
            if (weightMap == null || !weightMap.isJsonObject()) {
                throw new JsonParseException("it has no \"weight_map\" object");
            }
            SortedSet<HubFile> shards = new TreeSet<>(Comparator.comparing(HubFile::filename));
            for (Map.Entry<String, JsonElement> entry : ((JsonObject) weightMap).entrySet()) {
                shards.add(index.sibling(entry.getValue().getAsString()));
            }
            return shards;
        } catch (JsonParseException | IllegalStateException | UnsupportedOperationException
                | IllegalArgumentException e) {
            // Gson's failures, and HubFile's rejection of a shard name that is not a relative path
            throw new HubException(HubException.Kind.BAD_RESPONSE, index, "Cannot read the shard names from "
                    + index.describe() + " (" + indexPath + "): " + e.getMessage() + ". The repository's index is"
                    + " malformed.", e);
        }
    }
}
