package io.nnsight.remote.internal.protocol;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The constants of the HTTP protocol between a client and a model server ({@code docs/remote.md}): the
 * paths, the headers, the default port, this build's nnsight version and the rule that decides whether a
 * client and a server can work together.
 *
 * <pre>{@code
 * POST http://host:8642/request            nnsight-api-key, nnsight-model-key, nnsight-version, nnsight-java-version
 * GET  http://host:8642/stream/{id}        text/event-stream of status messages
 * GET  http://host:8642/result/{id}        the zstd result payload
 * }</pre>
 *
 * <p><b>One exchange for a blocking job.</b> A {@code POST /request} with {@code Accept: }{@value #EVENT_STREAM}
 * that the server accepts is answered with the job's event stream itself, {@code RECEIVED} first, exactly as {@code
 * GET /stream/{id}} would send it; a refusal is the same JSON error with the same status code as without the
 * header, sent before any event. With {@value #INLINE_RESULT_HEADER}{@code : maxBytes} as well (on that request or
 * on {@code GET /stream/{id}}), the {@code COMPLETED} event carries the zstd result payload in base64 ({@link
 * StatusMessage#result()}) when it has at most {@code maxBytes} and at most {@link #MAX_INLINE_RESULT_BYTES} bytes;
 * that takes the result as {@code GET /result/{id}} would. A larger result is left to download. Submitting,
 * following and fetching a small result is then one round trip:
 *
 * <pre>{@code
 * POST /request   Accept: text/event-stream   nnsight-inline-result: 1048576
 * 200 text/event-stream
 * data: {"id":"0c6f...","status":"RECEIVED","time":...}
 * data: {"id":"0c6f...","status":"RUNNING","time":...}
 * data: {"id":"0c6f...","status":"COMPLETED","size":1234,"time":...,"result":"KLUv/..."}
 * }</pre>
 *
 * <p>If writing that event fails, the server puts the result back, so the client may still download it; a
 * connection the client closed may however still take one write before the server learns of it, as for a
 * download.
 *
 * <p>A client and a server are compatible when their nnsight versions share major and minor version
 * ({@code 0.1.0} and {@code 0.1.3-SNAPSHOT} are, {@code 0.1.0} and {@code 0.2.0} are not): the wire format
 * of requests and results may change between minor versions.
 */
public final class Protocol {
    /** The port a server listens on unless told otherwise. */
    public static final int DEFAULT_PORT = 8642;

    /** The caller's API key; required on every endpoint except {@link #PING}, {@link #ENV} and {@link #STATUS}. */
    public static final String API_KEY_HEADER = "nnsight-api-key";
    /** Which hosted model a request runs on. */
    public static final String MODEL_KEY_HEADER = "nnsight-model-key";
    /** The client's nnsight version ({@link #VERSION}). */
    public static final String VERSION_HEADER = "nnsight-version";
    /** The client's Java feature version ({@code Runtime.version().feature()}). */
    public static final String JAVA_VERSION_HEADER = "nnsight-java-version";
    /**
     * On {@code POST /request} answered with events, or on {@code GET /stream/{id}}: the most bytes of compressed
     * result the client takes inline in the {@code COMPLETED} event (a decimal number; {@code 0}: none).
     */
    public static final String INLINE_RESULT_HEADER = "nnsight-inline-result";

    /** The media type of event streams; as {@code Accept} of {@code POST /request}, asks for the job's events. */
    public static final String EVENT_STREAM = "text/event-stream";
    /** The most bytes of compressed result a server sends inline, whatever the client asks for. */
    public static final int MAX_INLINE_RESULT_BYTES = 1 << 20;
    /**
     * The longest line of an event stream a client reads: a {@code COMPLETED} event with an inline result of {@link
     * #MAX_INLINE_RESULT_BYTES} (4/3 as many characters in base64) fits with room to spare.
     */
    public static final int MAX_EVENT_LINE_BYTES = 2 << 20;

    /** {@code GET}: answers {@code pong}. */
    public static final String PING = "/ping";
    /** {@code GET}: the server's versions and hosted models, as JSON. */
    public static final String ENV = "/env";
    /** {@code GET}: the state of each hosted model's queue, as JSON. */
    public static final String STATUS = "/status";
    /**
     * {@code POST}: submits a job; answers its {@code RECEIVED} status message, or with {@code Accept:} {@value
     * #EVENT_STREAM} the job's event stream.
     */
    public static final String REQUEST = "/request";
    /** {@code GET /stream/{id}}: the job's status messages as server-sent events. */
    public static final String STREAM = "/stream/";
    /** {@code GET /response/{id}}: the job's latest status message. */
    public static final String RESPONSE = "/response/";
    /** {@code GET /result/{id}}: the job's zstd result payload, once. */
    public static final String RESULT = "/result/";

    /** How often a server sends a comment on an event stream that has nothing else to say. */
    public static final Duration HEARTBEAT = Duration.ofSeconds(15);

    /** The version of the build used when the jar's manifest does not name one (classes run from a folder). */
    static final String BUILD_VERSION = "0.1.0-SNAPSHOT";

    /** This nnsight's version: the jar manifest's {@code Implementation-Version}, else the build's version. */
    public static final String VERSION = version();

    private static final Pattern MAJOR_MINOR = Pattern.compile("(\\d{1,9})\\.(\\d{1,9})(?:[.\\-+].*)?");

    private Protocol() {}

    private static String version() {
        String fromManifest = Protocol.class.getPackage().getImplementationVersion();
        return fromManifest == null || fromManifest.isBlank() ? BUILD_VERSION : fromManifest;
    }

    /**
     * Whether a client and a server of these nnsight versions can work together: both parse as {@code
     * major.minor[...]} and share major and minor version.
     */
    public static boolean compatible(String clientVersion, String serverVersion) {
        String client = majorMinor(clientVersion);
        return client != null && client.equals(majorMinor(serverVersion));
    }

    /** {@code "0.1"} for {@code "0.1.0-SNAPSHOT"}; {@code null} for {@code null} or a version of another form. */
    static String majorMinor(String version) {
        if (version == null) {
            return null;
        }
        Matcher matcher = MAJOR_MINOR.matcher(version.trim());
        return matcher.matches()
                ? Integer.parseInt(matcher.group(1)) + "." + Integer.parseInt(matcher.group(2))
                : null;
    }
}
