package io.nnsight.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubClientTest {
    private static final String REPO = "acme/tiny-model";
    private static final byte[] CONFIG = "{\"model_type\": \"tiny\"}".getBytes(StandardCharsets.UTF_8);
    private static final byte[] WEIGHTS = bytes(300_000);

    @TempDir
    Path cache;

    private FakeHub hub;
    private final List<FakeHub> otherServers = new ArrayList<>();

    @BeforeEach
    void startHub() throws IOException {
        hub = new FakeHub(REPO);
    }

    @AfterEach
    void stopServers() {
        hub.close();
        otherServers.forEach(FakeHub::close);
    }

    @Test
    void download_firstCall_writesBlobSymlinkedSnapshotAndRef() throws IOException {
        String commit = hub.publish(Map.of("config.json", CONFIG));

        Path path = online().download(REPO, "main", "config.json");

        Path repoDir = cache.resolve("models--acme--tiny-model");
        String etag = FakeHub.etagOf(CONFIG);
        assertEquals(repoDir.resolve("snapshots").resolve(commit).resolve("config.json"), path);
        assertTrue(Files.isSymbolicLink(path));
        assertEquals(Path.of("..", "..", "blobs", etag), Files.readSymbolicLink(path));
        assertArrayEquals(CONFIG, Files.readAllBytes(repoDir.resolve("blobs").resolve(etag)));
        assertArrayEquals(CONFIG, Files.readAllBytes(path));
        assertEquals(commit, Files.readString(repoDir.resolve("refs").resolve("main")));
        assertFalse(Files.exists(repoDir.resolve("blobs").resolve(etag + ".incomplete")));
    }

    @Test
    void download_repoWithoutNamespace_usesModelsNameFolder() throws IOException {
        try (FakeHub gpt2 = new FakeHub("gpt2")) {
            String commit = gpt2.publish(Map.of("config.json", CONFIG));
            HubClient client = client(HubSettings.builder().endpoint(gpt2.endpoint()).cacheDir(cache).build());

            Path path = client.download("gpt2", null, "config.json");

            assertEquals(cache.resolve("models--gpt2").resolve("snapshots").resolve(commit).resolve("config.json"),
                    path);
        }
    }

    @Test
    void download_fileInSubfolder_linksToBlobRelativeToItsFolder() throws IOException {
        hub.publish(Map.of("onnx/model.onnx", WEIGHTS));

        Path path = online().download(REPO, "main", "onnx/model.onnx");

        assertEquals(Path.of("..", "..", "..", "blobs", FakeHub.etagOf(WEIGHTS)), Files.readSymbolicLink(path));
        assertArrayEquals(WEIGHTS, Files.readAllBytes(path));
    }

    @Test
    void download_blobAlreadyCached_asksWithHeadOnlyAndMakesNoGet() throws IOException {
        hub.publish(Map.of("config.json", CONFIG));
        HubClient client = online();
        Path first = client.download(REPO, "main", "config.json");
        int getsAfterFirst = hub.gets().size();

        Path second = client.download(REPO, "main", "config.json");

        assertEquals(first, second);
        assertEquals(1, getsAfterFirst);
        assertEquals(1, hub.gets().size());
        assertEquals("HEAD", last(hub.requests()).method());
    }

    @Test
    void download_withToken_sendsBearerHeader() throws IOException {
        hub.publish(Map.of("config.json", CONFIG));
        hub.requireToken("hf_secret");

        Path path = client(settings().token("hf_secret").build()).download(REPO, "main", "config.json");

        assertArrayEquals(CONFIG, Files.readAllBytes(path));
        assertTrue(hub.requests().stream().allMatch(r -> "Bearer hf_secret".equals(r.authorization())));
    }

    @Test
    void download_privateRepoWithoutToken_failsWithAccessDeniedNamingHfToken() {
        hub.publish(Map.of("config.json", CONFIG));
        hub.requireToken("hf_secret");

        HubException e = assertThrows(HubException.class, () -> online().download(REPO, "main", "config.json"));

        assertEquals(HubException.Kind.ACCESS_DENIED, e.kind());
        assertMentions(e, "HTTP 401", "HF_TOKEN", REPO, "main", "config.json");
        assertEquals(List.of(REPO, "main", "config.json"), List.of(e.repoId(), e.revision(), e.filename()));
        assertFalse(Files.exists(cache.resolve("models--acme--tiny-model").resolve("snapshots")));
    }

    @Test
    void download_redirectToOtherHost_doesNotForwardToken() throws IOException {
        FakeHub storage = otherServer();
        hub.publish(Map.of("model.safetensors", WEIGHTS));
        hub.requireToken("hf_secret");
        hub.redirectFilesTo(storage);

        Path path = client(settings().token("hf_secret").build()).download(REPO, "main", "model.safetensors");

        assertArrayEquals(WEIGHTS, Files.readAllBytes(path));
        assertEquals(Path.of("..", "..", "blobs", FakeHub.etagOf(WEIGHTS)), Files.readSymbolicLink(path));
        assertEquals(List.of("HEAD"), hub.requests().stream().map(FakeHub.Request::method).toList());
        assertEquals(1, storage.gets().size());
        assertNull(storage.gets().get(0).authorization());
    }

    @Test
    void download_redirectToOtherPathOfSameHost_keepsToken() throws IOException {
        hub.publish(Map.of("model.safetensors", WEIGHTS));
        hub.requireToken("hf_secret");
        hub.redirectFilesTo(hub);

        Path path = client(settings().token("hf_secret").build()).download(REPO, "main", "model.safetensors");

        assertArrayEquals(WEIGHTS, Files.readAllBytes(path));
        FakeHub.Request get = last(hub.gets());
        assertEquals("/cdn/" + FakeHub.etagOf(WEIGHTS), get.path());
        assertEquals("Bearer hf_secret", get.authorization());
    }

    @Test
    void download_connectionDroppedHalfway_resumesWithRangeRequest() throws IOException {
        hub.publish(Map.of("model.safetensors", WEIGHTS));
        hub.dropConnectionsHalfway(1);
        HubClient client = online();
        Path repoDir = cache.resolve("models--acme--tiny-model");
        Path incomplete = repoDir.resolve("blobs").resolve(FakeHub.etagOf(WEIGHTS) + ".incomplete");

        HubException e = assertThrows(HubException.class, () -> client.download(REPO, "main", "model.safetensors"));

        assertEquals(HubException.Kind.INCOMPLETE_DOWNLOAD, e.kind());
        assertMentions(e, "model.safetensors", REPO, "main", "resume");
        // The server sent half the file before dropping the connection; the client kept what reached it.
        long kept = Files.size(incomplete);
        assertTrue(kept > 0 && kept <= WEIGHTS.length / 2, "kept " + kept + " bytes");
        assertFalse(Files.exists(repoDir.resolve("blobs").resolve(FakeHub.etagOf(WEIGHTS))));
        assertFalse(Files.exists(repoDir.resolve("snapshots")));

        Path path = client.download(REPO, "main", "model.safetensors");

        assertEquals("bytes=" + kept + "-", last(hub.gets()).range());
        assertArrayEquals(WEIGHTS, Files.readAllBytes(path));
        assertFalse(Files.exists(incomplete));
    }

    @Test
    void download_resumeAgainstServerWithoutRanges_restartsFromZero() throws IOException {
        hub.publish(Map.of("model.safetensors", WEIGHTS));
        hub.dropConnectionsHalfway(1);
        hub.ignoreRanges();
        HubClient client = online();
        assertThrows(HubException.class, () -> client.download(REPO, "main", "model.safetensors"));

        Path path = client.download(REPO, "main", "model.safetensors");

        assertArrayEquals(WEIGHTS, Files.readAllBytes(path));
    }

    @Test
    void download_listener_reportsProgressEndingWithTheSize() throws IOException {
        hub.publish(Map.of("model.safetensors", WEIGHTS));
        List<long[]> calls = new ArrayList<>();

        online().withListener((file, done, total) -> calls.add(new long[] {done, total}))
                .download(REPO, "main", "model.safetensors");

        assertArrayEquals(new long[] {0, WEIGHTS.length}, calls.get(0));
        assertArrayEquals(new long[] {WEIGHTS.length, WEIGHTS.length}, last(calls));
        assertTrue(calls.size() > 2);
    }

    @Test
    void download_offlineWithCachedFile_makesNoRequest() throws IOException {
        hub.publish(Map.of("config.json", CONFIG));
        Path online = online().download(REPO, "main", "config.json");
        int requests = hub.requests().size();

        Path offline = client(settings().offline(true).build()).download(REPO, "main", "config.json");

        assertEquals(online, offline);
        assertEquals(requests, hub.requests().size());
    }

    @Test
    void download_offlineWithoutCachedFile_failsWithNotCached() {
        hub.publish(Map.of("config.json", CONFIG));

        HubException e = assertThrows(HubException.class,
                () -> client(settings().offline(true).build()).download(REPO, "main", "config.json"));

        assertEquals(HubException.Kind.NOT_CACHED, e.kind());
        assertMentions(e, "not in the cache", "HF_HUB_OFFLINE", REPO, "main", "config.json");
        assertTrue(hub.requests().isEmpty());
    }

    @Test
    void download_commitHashRevisionInCache_makesNoRequest() throws IOException {
        String commit = hub.publish(Map.of("config.json", CONFIG));
        HubClient client = online();
        Path first = client.download(REPO, commit, "config.json");
        int requests = hub.requests().size();

        Path second = client.download(REPO, commit, "config.json");

        assertEquals(first, second);
        assertEquals(requests, hub.requests().size());
        assertFalse(Files.exists(cache.resolve("models--acme--tiny-model").resolve("refs").resolve(commit)));
    }

    @Test
    void download_newCommitOnServer_fetchesNewFileAndUpdatesRef() throws IOException {
        String oldCommit = hub.publish(Map.of("config.json", CONFIG));
        HubClient client = online();
        Path oldPath = client.download(REPO, "main", "config.json");
        byte[] newConfig = "{\"model_type\": \"tiny\", \"layers\": 2}".getBytes(StandardCharsets.UTF_8);
        String newCommit = hub.publish(Map.of("config.json", newConfig));

        Path newPath = client.download(REPO, "main", "config.json");

        Path repoDir = cache.resolve("models--acme--tiny-model");
        assertEquals(repoDir.resolve("snapshots").resolve(newCommit).resolve("config.json"), newPath);
        assertArrayEquals(newConfig, Files.readAllBytes(newPath));
        assertEquals(newCommit, Files.readString(repoDir.resolve("refs").resolve("main")));
        assertEquals(2, hub.gets().size());
        assertArrayEquals(CONFIG, Files.readAllBytes(oldPath));
        assertTrue(oldPath.toString().contains(oldCommit));
    }

    @Test
    void download_missingFile_failsWithFileNotFound() {
        hub.publish(Map.of("config.json", CONFIG));

        HubException e = assertThrows(HubException.class, () -> online().download(REPO, "main", "missing.json"));

        assertEquals(HubException.Kind.FILE_NOT_FOUND, e.kind());
        assertMentions(e, "not found", "missing.json", REPO, "main", "private or gated");
    }

    @Test
    void download_unknownRevision_failsWithRevisionNotFound() {
        hub.publish(Map.of("config.json", CONFIG));

        HubException e = assertThrows(HubException.class, () -> online().download(REPO, "v9", "config.json"));

        assertEquals(HubException.Kind.REVISION_NOT_FOUND, e.kind());
        assertMentions(e, "'v9'", REPO, "config.json");
    }

    @Test
    void downloadIfExists_missingFile_returnsEmpty() throws IOException {
        hub.publish(Map.of("config.json", CONFIG));

        assertEquals(Optional.empty(), online().downloadIfExists(REPO, "main", "generation_config.json"));
    }

    @Test
    void downloadIfExists_missingRepository_fails() {
        hub.publish(Map.of("config.json", CONFIG));

        HubException e = assertThrows(HubException.class,
                () -> online().downloadIfExists("acme/other-model", "main", "config.json"));

        assertEquals(HubException.Kind.REPOSITORY_NOT_FOUND, e.kind());
        assertMentions(e, "acme/other-model", "HF_TOKEN");
    }

    @Test
    void downloadIfExists_offlineAfterOnlineMiss_returnsEmptyFromTheCache() throws IOException {
        hub.publish(Map.of("config.json", CONFIG));
        online().downloadIfExists(REPO, "main", "generation_config.json");
        int requests = hub.requests().size();

        Optional<Path> offline = client(settings().offline(true).build())
                .downloadIfExists(REPO, "main", "generation_config.json");

        assertEquals(Optional.empty(), offline);
        assertEquals(requests, hub.requests().size());
    }

    @Test
    void downloadModel_singleWeightsFile_fetchesConfigTokenizerAndWeights() throws IOException {
        String commit = hub.publish(Map.of(
                "config.json", CONFIG,
                "tokenizer.json", bytes(100),
                "model.safetensors", WEIGHTS,
                "README.md", bytes(10)));

        Path folder = online().downloadModel(REPO, "main");

        assertEquals(cache.resolve("models--acme--tiny-model").resolve("snapshots").resolve(commit), folder);
        assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json"), fileNames(folder));
        assertArrayEquals(WEIGHTS, Files.readAllBytes(folder.resolve("model.safetensors")));
    }

    @Test
    void downloadModelWithoutWeights_fetchesConfigAndTokenizerOnly() throws IOException {
        hub.publish(Map.of(
                "config.json", CONFIG,
                "tokenizer.json", bytes(100),
                "model.safetensors", WEIGHTS));

        Path folder = online().downloadModelWithoutWeights(REPO, "main");

        assertEquals(List.of("config.json", "tokenizer.json"), fileNames(folder));
        assertTrue(hub.requests().stream().noneMatch(request -> request.path().contains("safetensors")), hub.requests().toString());
    }

    @Test
    void downloadModel_shardedIndex_fetchesAllShards() throws IOException {
        byte[] shard1 = bytes(1000);
        byte[] shard2 = bytes(2000);
        String index = "{\"metadata\": {\"total_size\": 3000}, \"weight_map\": {"
                + "\"embed.weight\": \"model-00001-of-00002.safetensors\","
                + "\"layer.0.weight\": \"model-00001-of-00002.safetensors\","
                + "\"head.weight\": \"model-00002-of-00002.safetensors\"}}";
        hub.publish(Map.of(
                "config.json", CONFIG,
                "model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8),
                "model-00001-of-00002.safetensors", shard1,
                "model-00002-of-00002.safetensors", shard2));

        Path folder = online().downloadModel(REPO, "main");

        assertEquals(List.of("config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"), fileNames(folder));
        assertArrayEquals(shard1, Files.readAllBytes(folder.resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(shard2, Files.readAllBytes(folder.resolve("model-00002-of-00002.safetensors")));
        assertEquals(4, hub.gets().size());
    }

    @Test
    void downloadModel_secondCallOffline_findsEverythingInTheCache() throws IOException {
        hub.publish(Map.of("config.json", CONFIG, "model.safetensors", WEIGHTS));
        Path online = online().downloadModel(REPO, "main");
        int requests = hub.requests().size();

        Path offline = client(settings().offline(true).build()).downloadModel(REPO, "main");

        assertEquals(online, offline);
        assertEquals(requests, hub.requests().size());
    }

    @Test
    void downloadModel_noSafetensorsWeights_failsNamingBothFiles() {
        hub.publish(Map.of("config.json", CONFIG, "pytorch_model.bin", WEIGHTS));

        HubException e = assertThrows(HubException.class, () -> online().downloadModel(REPO, "main"));

        assertEquals(HubException.Kind.FILE_NOT_FOUND, e.kind());
        assertMentions(e, "model.safetensors", "model.safetensors.index.json", REPO, "main");
    }

    @Test
    void download_endpointUnreachable_failsWithNetworkErrorNamingEndpoint() throws IOException {
        URI closed = closedEndpoint();

        HubException e = assertThrows(HubException.class,
                () -> client(settings().endpoint(closed).build()).download(REPO, "main", "config.json"));

        assertEquals(HubException.Kind.NETWORK_ERROR, e.kind());
        assertMentions(e, closed.getAuthority(), "connection refused", "HF_ENDPOINT", "HF_HUB_OFFLINE", REPO, "config.json");
    }

    @Test
    void download_endpointUnreachableWithCachedFile_returnsCachedFile() throws IOException {
        hub.publish(Map.of("config.json", CONFIG));
        Path cached = online().download(REPO, "main", "config.json");

        Path path = client(settings().endpoint(closedEndpoint()).build()).download(REPO, "main", "config.json");

        assertEquals(cached, path);
    }

    @Test
    void download_concurrentCallsForOneFile_downloadItOnce() throws Exception {
        hub.publish(Map.of("model.safetensors", WEIGHTS));
        HubClient client = online();
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            Callable<Path> download = () -> client.download(REPO, "main", "model.safetensors");
            List<Future<Path>> results = threads.invokeAll(List.of(download, download, download, download));
            for (Future<Path> result : results) {
                assertArrayEquals(WEIGHTS, Files.readAllBytes(result.get()));
            }
        } finally {
            threads.shutdownNow();
        }
        assertEquals(1, hub.gets().size());
    }

    @Test
    void download_pathEscapingTheSnapshot_isRejected() {
        HubClient client = online();

        assertThrows(IllegalArgumentException.class, () -> client.download(REPO, "main", "../../secret"));
        assertThrows(IllegalArgumentException.class, () -> client.download("../etc", "main", "config.json"));
        assertThrows(IllegalArgumentException.class, () -> client.download(REPO, "..", "config.json"));
        assertTrue(hub.requests().isEmpty());
    }

    private HubSettings.Builder settings() {
        return HubSettings.builder().endpoint(hub.endpoint()).cacheDir(cache);
    }

    private HubClient online() {
        return client(settings().build());
    }

    private static HubClient client(HubSettings settings) {
        return HubClient.create(settings).withListener(DownloadListener.none());
    }

    private FakeHub otherServer() throws IOException {
        FakeHub server = new FakeHub("none");
        otherServers.add(server);
        return server;
    }

    /** An endpoint where nothing listens. */
    private static URI closedEndpoint() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return URI.create("http://127.0.0.1:" + socket.getLocalPort());
        }
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "'" + part + "' missing from: " + e.getMessage());
        }
    }

    private static List<String> fileNames(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(file -> file.getFileName().toString()).sorted().toList();
        }
    }

    private static <T> T last(List<T> list) {
        return list.get(list.size() - 1);
    }

    private static byte[] bytes(int size) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (i * 31 + i / 251);
        }
        return bytes;
    }
}
