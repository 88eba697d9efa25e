package io.nnsight.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Where a {@link HubClient} downloads from, who it says it is, and where it keeps the files: an immutable value.
 *
 * <p>{@link #fromEnvironment()} reads the environment variables of huggingface_hub, so that Java and Python
 * programs on one machine share one cache and one login:
 *
 * <table class="striped">
 *   <caption>Environment variables</caption>
 *   <tr><th>Variable</th><th>Meaning</th><th>Default</th></tr>
 *   <tr><td>{@code HF_ENDPOINT}</td><td>the hub's base URL</td><td>{@code https://huggingface.co}</td></tr>
 *   <tr><td>{@code HF_TOKEN}</td><td>the access token, sent as {@code Authorization: Bearer <token>}</td>
 *       <td>the token that {@code hf auth login} saved in {@code $HF_HOME/token}, if any</td></tr>
 *   <tr><td>{@code HF_HOME}</td><td>the root of huggingface_hub's files</td>
 *       <td>{@code $XDG_CACHE_HOME/huggingface}, else {@code ~/.cache/huggingface}</td></tr>
 *   <tr><td>{@code HF_HUB_CACHE}</td><td>the cache of downloaded repositories</td>
 *       <td>{@code $HF_HOME/hub}</td></tr>
 *   <tr><td>{@code HF_HUB_OFFLINE}</td><td>{@code 1}, {@code true}, {@code yes} or {@code on}: never use the
 *       network, serve only cached files</td><td>off</td></tr>
 * </table>
 *
 * <p>The older names {@code HUGGING_FACE_HUB_TOKEN} and {@code HUGGINGFACE_HUB_CACHE}, and {@code HF_TOKEN_PATH}
 * for the token file, are honoured as huggingface_hub honours them. Code overrides any of these values:
 *
 * <pre>{@code
 * HubSettings settings = HubSettings.fromEnvironment().toBuilder()
 *         .cacheDir(Path.of("/data/hf-cache"))
 *         .offline(true)
 *         .build();
 * HubClient client = HubClient.create(settings);
 * }</pre>
 */
public final class HubSettings {
    /** The public Hugging Face Hub, used when {@code HF_ENDPOINT} is not set. */
    public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");

    private static final Set<String> TRUE_VALUES = Set.of("1", "on", "yes", "true");

    private final URI endpoint;
    private final String token;
    private final Path cacheDir;
    private final boolean offline;

    private HubSettings(Builder builder) {
        this.endpoint = builder.endpoint;
        this.token = builder.token;
        this.cacheDir = builder.cacheDir;
        this.offline = builder.offline;
    }

    /**
     * The settings that the environment variables describe (see the class description).
     *
     * @throws UncheckedIOException if the token file exists but cannot be read
     */
    public static HubSettings fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /** {@link #fromEnvironment()} with the given variables and home folder, for tests. */
    static HubSettings fromEnvironment(Map<String, String> env, Path userHome) {
        Builder builder = builder(userHome);
        Path hfHome = Optional.ofNullable(nonBlank(env.get("HF_HOME")))
                .map(value -> expandHome(value, userHome))
                .orElseGet(() -> Optional.ofNullable(nonBlank(env.get("XDG_CACHE_HOME")))
                        .map(value -> expandHome(value, userHome))
                        .orElse(userHome.resolve(".cache"))
                        .resolve("huggingface"));
        builder.cacheDir(Optional.ofNullable(nonBlank(env.get("HF_HUB_CACHE")))
                .or(() -> Optional.ofNullable(nonBlank(env.get("HUGGINGFACE_HUB_CACHE"))))
                .map(value -> expandHome(value, userHome))
                .orElse(hfHome.resolve("hub")));

        String endpoint = nonBlank(env.get("HF_ENDPOINT"));
        if (endpoint != null) {
            builder.endpoint(URI.create(endpoint));
        }
        String token = nonBlank(env.get("HF_TOKEN"));
        if (token == null) {
            token = nonBlank(env.get("HUGGING_FACE_HUB_TOKEN"));
        }
        if (token == null) {
            token = readTokenFile(Optional.ofNullable(nonBlank(env.get("HF_TOKEN_PATH")))
                    .map(value -> expandHome(value, userHome))
                    .orElse(hfHome.resolve("token")));
        }
        builder.token(token);
        String offline = nonBlank(env.get("HF_HUB_OFFLINE"));
        builder.offline(offline != null && TRUE_VALUES.contains(offline.toLowerCase(Locale.ROOT)));
        return builder.build();
    }

    /**
     * A builder that starts from the defaults, ignoring the environment: the public hub, no token, the cache
     * in {@code ~/.cache/huggingface/hub}, online. Start from {@code fromEnvironment().toBuilder()} instead to
     * override only some of the environment's values.
     */
    public static Builder builder() {
        return builder(Path.of(System.getProperty("user.home")));
    }

    private static Builder builder(Path userHome) {
        return new Builder(DEFAULT_ENDPOINT, null, userHome.resolve(".cache").resolve("huggingface").resolve("hub"),
                false);
    }

    /** A builder that starts from these settings. */
    public Builder toBuilder() {
        return new Builder(endpoint, token, cacheDir, offline);
    }

    /** The hub's base URL, without a trailing slash, like {@code https://huggingface.co}. */
    public URI endpoint() {
        return endpoint;
    }

    /** The access token sent to the endpoint, if any. */
    public Optional<String> token() {
        return Optional.ofNullable(token);
    }

    /** The cache folder that holds one {@code models--<namespace>--<name>} folder per repository. */
    public Path cacheDir() {
        return cacheDir;
    }

    /** Whether the network is never used and only cached files are served. */
    public boolean offline() {
        return offline;
    }

    /** Describes these settings, with the token masked. */
    @Override
    public String toString() {
        return "HubSettings[endpoint=" + endpoint + ", token=" + (token == null ? "none" : "***")
                + ", cacheDir=" + cacheDir + ", offline=" + offline + "]";
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof HubSettings
                && endpoint.equals(((HubSettings) other).endpoint)
                && Objects.equals(token, ((HubSettings) other).token)
                && cacheDir.equals(((HubSettings) other).cacheDir)
                && offline == ((HubSettings) other).offline;
    }

    @Override
    public int hashCode() {
        return Objects.hash(endpoint, token, cacheDir, offline);
    }

    private static String nonBlank(String value) {
        return value == null || value.isBlank() ? null : value.strip();
    }

    private static Path expandHome(String path, Path userHome) {
        if (path.equals("~")) {
            return userHome;
        }
        if (path.startsWith("~/")) {
            return userHome.resolve(path.substring(2));
        }
        return Path.of(path);
    }

    private static String readTokenFile(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return nonBlank(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read the Hugging Face token file " + file, e);
        }
    }

    /** Builds {@link HubSettings}; every setter replaces one value. */
    public static final class Builder {
        private URI endpoint;
        private String token;
        private Path cacheDir;
        private boolean offline;

        private Builder(URI endpoint, String token, Path cacheDir, boolean offline) {
            this.endpoint = endpoint;
            this.token = token;
            this.cacheDir = cacheDir;
            this.offline = offline;
        }

        /**
         * The hub's base URL, like {@code https://huggingface.co} or a mirror's; a trailing slash is ignored.
         *
         * @throws IllegalArgumentException if the URL is not an absolute {@code http} or {@code https} URL
         */
        public Builder endpoint(URI endpoint) {
            Objects.requireNonNull(endpoint, "endpoint");
            String scheme = endpoint.getScheme();
            if (endpoint.getHost() == null || !("http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme))) {
                throw new IllegalArgumentException("The hub endpoint must be an absolute http or https URL, like "
                        + DEFAULT_ENDPOINT + ", not '" + endpoint + "' (check HF_ENDPOINT)");
            }
            String url = endpoint.toString();
            while (url.endsWith("/")) {
                url = url.substring(0, url.length() - 1);
            }
            this.endpoint = URI.create(url);
            return this;
        }

        /** The access token to send to the endpoint; {@code null} or blank sends none. */
        public Builder token(String token) {
            this.token = nonBlank(token);
            return this;
        }

        /** The cache folder, like {@code ~/.cache/huggingface/hub}. */
        public Builder cacheDir(Path cacheDir) {
            this.cacheDir = Objects.requireNonNull(cacheDir, "cacheDir");
            return this;
        }

        /** Whether to never use the network and serve only cached files. */
        public Builder offline(boolean offline) {
            this.offline = offline;
            return this;
        }

        /** The settings. */
        public HubSettings build() {
            return new HubSettings(this);
        }
    }
}
