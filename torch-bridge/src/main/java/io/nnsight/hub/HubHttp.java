package io.nnsight.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The hub's file protocol: {@code HEAD} and {@code GET} of {@code {endpoint}/{repo}/resolve/{revision}/{file}}.
 *
 * <p>Redirects are followed here rather than by {@link HttpClient}, so that the token goes only to the endpoint's
 * origin (scheme, host and port), never to the storage that large files are redirected to.
 */
final class HubHttp {
    private static final Logger log = LoggerFactory.getLogger(HubHttp.class);

    /** huggingface_hub waits 10 seconds for the metadata and for each download to answer. */
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int MAX_REDIRECTS = 10;
    private static final String USER_AGENT = "nnsight-hub; java/" + Runtime.version().feature();

    /** ETags and commit hashes become file and folder names, so they must not be able to name another path. */
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]*");

    private final HubSettings settings;
    private final HttpClient http;

    HubHttp(HubSettings settings) {
        this.settings = settings;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(TIMEOUT)
                .build();
    }

    /** What a {@code HEAD} of the resolve URL says about a file. */
    record FileMetadata(String commit, String etag, URI downloadUrl) { }

    /**
     * Asks the hub which commit the revision is at and which blob the file is. Like huggingface_hub, follows only
     * relative redirects (those of renamed repositories); the target of any other redirect becomes the download URL.
     */
    FileMetadata head(HubFile file) throws IOException {
        URI uri = resolveUrl(file);
        for (int redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
            HttpResponse<Void> response = send(file, request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody()),
                    HttpResponse.BodyHandlers.discarding());
            int status = response.statusCode();
            if (isRedirect(status)) {
                URI location = location(file, response);
                if (location.getHost() == null) {
                    uri = uri.resolve(location);
                    continue;
                }
                return metadata(file, response.headers(), location);
            }
            if (status / 100 == 2) {
                return metadata(file, response.headers(), uri);
            }
            throw statusError(file, status, response.headers());
        }
        throw tooManyRedirects(file);
    }

    /**
     * Sends a {@code GET}, from byte {@code offset} on when it is positive, and follows all redirects. The caller
     * reads the body of the answer, whatever its status, and must close it.
     */
    HttpResponse<InputStream> get(HubFile file, URI url, long offset) throws IOException {
        URI uri = url;
        for (int redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
            HttpRequest.Builder request = request(uri).GET();
            if (offset > 0) {
                request.header("Range", "bytes=" + offset + "-");
            }
            HttpResponse<InputStream> response = send(file, request, HttpResponse.BodyHandlers.ofInputStream());
            if (!isRedirect(response.statusCode())) {
                return response;
            }
            response.body().close();
            uri = uri.resolve(location(file, response));
            log.debug("Following the redirect of {} to {}", file.describe(), uri.getHost());
        }
        throw tooManyRedirects(file);
    }

    /** The exception for a status that is neither success nor redirect, with what to do about it. */
    HubException statusError(HubFile file, int status, HttpHeaders headers) {
        String errorCode = headers.firstValue("X-Error-Code").orElse("");
        String hubSays = headers.firstValue("X-Error-Message").map(message -> " The hub says: " + message).orElse("");
        String tokenHint = settings.token().isPresent()
                ? "the token that was sent (HF_TOKEN) may not grant access to it"
                : "set HF_TOKEN to an access token of an account that can read it";
        switch (errorCode) {
            case "RepoNotFound":
                return new HubException(HubException.Kind.REPOSITORY_NOT_FOUND, file, "Repository " + file.repoId()
                        + " not found (HTTP " + status + ") while fetching " + file.describe()
                        + ". Check the repository id; if the repository is private or gated, " + tokenHint + "."
                        + hubSays);
            case "GatedRepo":
                return new HubException(HubException.Kind.ACCESS_DENIED, file, "Repository " + file.repoId()
                        + " is gated (HTTP " + status + "): cannot fetch " + file.describe()
                        + ". Accept its conditions at "
                        + settings.endpoint() + "/" + file.repoId() + " while logged in, then set HF_TOKEN to an"
                        + " access token of that account." + hubSays);
            case "RevisionNotFound":
                return new HubException(HubException.Kind.REVISION_NOT_FOUND, file, "Revision '" + file.revision()
                        + "' not found in repository " + file.repoId() + " (HTTP " + status + ") while fetching "
                        + file.describe() + ". Check the branch, tag or commit hash." + hubSays);
            case "EntryNotFound":
                return fileNotFound(file, status, headers, hubSays);
            default:
                break;
        }
        if (status == 401 || status == 403) {
            return new HubException(HubException.Kind.ACCESS_DENIED, file, "Access denied (HTTP " + status + ") to "
                    + file.describe() + ". The repository may be private or gated: " + tokenHint + "." + hubSays);
        }
        if (status == 404) {
            return fileNotFound(file, status, headers, hubSays);
        }
        String advice = status == 429 ? "The hub limits the rate of requests; retry later, ideally with HF_TOKEN set."
                : status >= 500 ? "The server failed; retry later."
                : "Check that HF_ENDPOINT (" + settings.endpoint() + ") is a Hugging Face Hub.";
        return new HubException(HubException.Kind.BAD_RESPONSE, file, "Unexpected HTTP " + status + " from "
                + settings.endpoint() + " while fetching " + file.describe() + ". " + advice + hubSays);
    }

    /** Percent-encodes a revision as one path segment and a file name as a path, as huggingface_hub does. */
    URI resolveUrl(HubFile file) {
        return URI.create(settings.endpoint() + "/" + file.repoId() + "/resolve/" + encode(file.revision(), false)
                + "/" + encode(file.filename(), true));
    }

    /** The hub names the commit it looked at in the headers of a 404, which lets the cache remember the absence. */
    private HubException fileNotFound(HubFile file, int status, HttpHeaders headers, String hubSays) {
        String commit = headers.firstValue("X-Repo-Commit").filter(c -> SAFE_NAME.matcher(c).matches()).orElse(null);
        return new HubException(HubException.Kind.FILE_NOT_FOUND, file, "File " + file.describe() + " not found"
                + " (HTTP " + status + "). Check the file name and the revision; if the repository is private or"
                + " gated, " + (settings.token().isPresent() ? "check that HF_TOKEN grants access to it"
                : "set HF_TOKEN to an access token") + "." + hubSays, null, commit);
    }

    private FileMetadata metadata(HubFile file, HttpHeaders headers, URI downloadUrl) throws HubException {
        String commit = headers.firstValue("X-Repo-Commit").orElse(null);
        String etag = headers.firstValue("X-Linked-Etag").or(() -> headers.firstValue("ETag"))
                .map(HubHttp::normalizeEtag).orElse(null);
        if (commit == null || etag == null) {
            throw new HubException(HubException.Kind.BAD_RESPONSE, file, "The server at " + settings.endpoint()
                    + " sent no " + (commit == null ? "X-Repo-Commit" : "ETag") + " header for " + file.describe()
                    + ", so the file cannot be cached. Check that HF_ENDPOINT is a Hugging Face Hub or a mirror of one;"
                    + " a proxy may also strip the header.");
        }
        if (!SAFE_NAME.matcher(commit).matches() || !SAFE_NAME.matcher(etag).matches()) {
            throw new HubException(HubException.Kind.BAD_RESPONSE, file, "The server at " + settings.endpoint()
                    + " sent a malformed commit '" + commit + "' or ETag '" + etag + "' for " + file.describe() + ".");
        }
        return new FileMetadata(commit, etag, downloadUrl);
    }

    /** {@code W/"abc"} and {@code "abc"} become {@code abc}. */
    static String normalizeEtag(String etag) {
        String value = etag.strip();
        if (value.startsWith("W/")) {
            value = value.substring(2);
        }
        if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
            value = value.substring(1, value.length() - 1);
        }
        return value;
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                .timeout(TIMEOUT)
                .header("User-Agent", USER_AGENT)
                .header("Accept-Encoding", "identity");
        Optional<String> token = settings.token();
        if (token.isPresent() && sameOrigin(uri, settings.endpoint())) {
            request.header("Authorization", "Bearer " + token.get());
        }
        return request;
    }

    private <T> HttpResponse<T> send(HubFile file, HttpRequest.Builder request, BodyHandler<T> body)
            throws IOException {
        HttpRequest built = request.build();
        try {
            return http.send(built, body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException interrupted = new InterruptedIOException("Interrupted while fetching "
                    + file.describe());
            interrupted.initCause(e);
            throw interrupted;
        } catch (IOException e) {
            URI uri = built.uri();
            throw new HubException(HubException.Kind.NETWORK_ERROR, file, "Could not reach " + uri.getScheme() + "://"
                    + uri.getAuthority() + " to fetch " + file.describe() + ": " + reason(e) + ". Check the network"
                    + " connection and HF_ENDPOINT (" + settings.endpoint() + "), or set HF_HUB_OFFLINE=1 to use only"
                    + " cached files.", e);
        }
    }

    private HubException tooManyRedirects(HubFile file) {
        return new HubException(HubException.Kind.BAD_RESPONSE, file, "More than " + MAX_REDIRECTS
                + " redirects while fetching " + file.describe() + " from " + settings.endpoint() + ".");
    }

    /** The target of a redirect: a relative URI, or an absolute {@code http} or {@code https} one. */
    private static URI location(HubFile file, HttpResponse<?> response) throws HubException {
        Optional<String> location = response.headers().firstValue("Location");
        if (location.isPresent()) {
            try {
                URI uri = new URI(location.get());
                String scheme = uri.getScheme();
                if (uri.getHost() == null ? scheme == null
                        : "http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme)) {
                    return uri;
                }
            } catch (URISyntaxException e) {
                // reported below
            }
        }
        throw new HubException(HubException.Kind.BAD_RESPONSE, file, "HTTP " + response.statusCode() + " redirect"
                + " from " + response.uri().getAuthority() + " without a usable Location header ("
                + location.orElse("none") + ") while fetching " + file.describe() + ".");
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI uri) {
        if (uri.getPort() != -1) {
            return uri.getPort();
        }
        return uri.getScheme().toLowerCase(Locale.ROOT).equals("https") ? 443 : 80;
    }

    /** Says why a request failed; {@link HttpClient} wraps the informative exception, often without a message. */
    static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnresolvedAddressException) {
                return "unknown host";
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t.getMessage();
            }
        }
        return e instanceof ConnectException ? "connection refused" : e.getClass().getSimpleName();
    }

    private static String encode(String value, boolean keepSlashes) {
        StringBuilder encoded = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || (keepSlashes && c == '/')) {
                encoded.append(c);
            } else {
                encoded.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return encoded.toString();
    }
}
