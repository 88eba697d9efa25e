package io.nnsight.remote;

import io.nnsight.Backend;
import io.nnsight.Job;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.http.StatusLine;
import io.nnsight.remote.internal.protocol.Compression;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import io.nnsight.remote.internal.shipping.Shipment;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.remote.spi.JobFailedException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A model server to run traces on: the {@link Backend} of remote execution, nnsight's {@code remote=True}.
 *
 * <pre>{@code
 * Remote server = Remote.on("http://gpu-box:8642");
 * Tensor logits = lm.on(server).trace("The Eiffel Tower is in", tr -> lm.get("lm_head").output());
 * List<Long> ids = lm.on(server).generate("Once", Generation.maxNewTokens(5), tr -> ...);
 * Tensor patched = lm.on(server).session(() -> { ... several traces, one request ... });
 * }</pre>
 *
 * <p><b>What travels.</b> The body runs on the server, not here: its code travels as the class files of
 * your classes that it uses (nnsight's, the JDK's and libraries' are the server's own; {@link
 * Ndif#register} ships a library package too), and the values it captures travel by value. The model
 * travels as its {@linkplain io.nnsight.NNsight#key() key}: the server runs the body on the model it hosts
 * under that key; weights never travel. The body's result comes back, and so does what the body did to the
 * collections, arrays and objects it captured, so {@code seen.add(NNsight.save(...))} fills your {@code
 * seen}. The server checks the shipped code first: files, network, threads, reflection and the like are
 * refused, with the reason.
 *
 * <p><b>Before sending.</b> {@link #local()} runs the same path in this JVM: ships the job into a class
 * loader that sees only what a server would, checks it as a server would, runs it on the local model. What
 * would fail remotely for want of a class or a permission fails here first. {@link Ndif#compare(Remote,
 * io.nnsight.NNsight...)} tells whether the server's versions and models suit the job at all.
 *
 * <p><b>Errors.</b> When the body throws on the server, or the server refuses or loses the job, the call
 * throws {@link RemoteException} with the server's description (for the body's error: its type, message
 * and the lines of your code it went through).
 *
 * <p>A server is started with {@code nnsight serve --model DIR --api-keys FILE}, or in code with {@code
 * ModelServer} (module {@code nnsight-remote-server}).
 *
 * <p>Configuration: {@code NNSIGHT_HOST} or {@code -Dnnsight.host} (for {@link #fromEnvironment()}), and
 * {@code NNSIGHT_API_KEY} or {@code -Dnnsight.apiKey}. A status line shows the job's progress on the
 * terminal, and lines the body prints on the server appear on standard output; {@link #quiet()} turns the
 * status line off.
 */
public final class Remote implements Backend {
    /** The largest result a client takes: the largest byte array Java makes, about 2 GiB. */
    private static final long MAX_RESULT_BYTES = Integer.MAX_VALUE - 8;
    private static final Duration LOCAL_TIME_LIMIT = Duration.ofMinutes(5);
    private static final Map<String, HttpTransport> TRANSPORTS = new ConcurrentHashMap<>();
    private final String url;
    private final String apiKey;
    private final boolean quiet;

    private Remote(String url, String apiKey, boolean quiet) {
        this.url = url;
        this.apiKey = apiKey;
        this.quiet = quiet;
    }

    /**
     * The server at {@code url} ({@code http://host:8642}), with the API key of {@code -Dnnsight.apiKey} or
     * {@code NNSIGHT_API_KEY}.
     */
    public static Remote on(String url) {
        Objects.requireNonNull(url, "url");
        return new Remote(url.endsWith("/") ? url.substring(0, url.length() - 1) : url, setting("nnsight.apiKey",
                "NNSIGHT_API_KEY", null), false);
    }

    /** The server of {@code -Dnnsight.host} or {@code NNSIGHT_HOST}, else {@code http://localhost:8642}. */
    public static Remote fromEnvironment() {
        return on(setting("nnsight.host", "NNSIGHT_HOST", "http://localhost:" + Protocol.DEFAULT_PORT));
    }

    /**
     * This JVM, as a server would run the job: shipped into a class loader of its own and checked, then run
     * on the local model. For finding what would fail remotely before sending anything.
     */
    public static Remote local() {
        return new Remote(null, null, true);
    }

    /** The same server with another API key. */
    public Remote apiKey(String key) {
        return new Remote(url, Objects.requireNonNull(key, "key"), quiet);
    }

    /** The same server without the status line on the terminal; what the body prints still appears. */
    public Remote quiet() {
        return new Remote(url, apiKey, true);
    }

    /** The server's address, or {@code "local"} for {@link #local()}. */
    public String url() {
        return url == null ? "local" : url;
    }

    /**
     * Runs {@code job} on the server and returns its result, waiting for it.
     *
     * @throws RemoteException when the server refuses or loses the job, or the job fails there
     * @throws IllegalArgumentException when something the body uses cannot be shipped
     */
    @Override
    @SuppressWarnings("unchecked")
    public <R> R run(Job<R> job) {
        Shipment shipment = Shipment.of(job);
        byte[] result = url == null
                ? runLocally(job, shipment)
                // one exchange: submitted, followed and, when small, answered on the same request
                : transport().run(job.model().key(), Compression.compress(shipment.envelope().write()), display(),
                        MAX_RESULT_BYTES);
        return (R) shipment.result(result);
    }

    /**
     * Sends {@code job} and returns at once: the handle tells where the job stands and gives its result when
     * it has one (nnsight's non-blocking mode).
     */
    public <R> RemoteJob<R> submit(Job<R> job) {
        Shipment shipment = Shipment.of(job);
        if (url == null) {
            return RemoteJob.completed(shipment, runLocally(job, shipment));
        }
        return submit(job, shipment);
    }

    private <R> RemoteJob<R> submit(Job<R> job, Shipment shipment) {
        HttpTransport transport = transport();
        StatusMessage received = transport.submit(job.model().key(), Compression.compress(shipment.envelope().write()));
        return new RemoteJob<>(transport, received, shipment, display(), MAX_RESULT_BYTES);
    }

    /** What shows a job's progress: the status line, or with {@link #quiet()} only the lines the job prints. */
    private StatusLine display() {
        return quiet ? StatusLine.logsOnly() : StatusLine.standard();
    }

    private static byte[] runLocally(Job<?> job, Shipment shipment) {
        JobContext context = new JobContext("local-" + UUID.randomUUID(), LOCAL_TIME_LIMIT, System.out::println);
        try {
            JobExecutor executor = Local.EXECUTOR.orElseThrow(() -> new IllegalStateException("Remote.local() runs "
                    + "jobs through the model server's sandbox, which is not on the class path: add the dependency "
                    + "io.nnsight:nnsight-remote-sandbox"));
            // the model as a server hosts it: the job brings its edits
            return executor.execute(job.model().withoutEdits(), shipment.envelope().write(), context);
        } catch (JobFailedException e) {
            throw new RemoteException("the job failed as a server would run it: " + e.getMessage(), e);
        }
    }

    /**
     * The executor of {@link #local()}: the sandbox's (module {@code nnsight-remote-sandbox}, a run-time
     * dependency of this one), found as a {@link JobExecutor} service the first time a job runs locally. One for
     * the JVM, as a server has one, so that each model keeps one weight guard.
     */
    private static final class Local {
        static final Optional<JobExecutor> EXECUTOR =
                ServiceLoader.load(JobExecutor.class, Remote.class.getClassLoader()).findFirst();
    }

    /** Whether this is a server, not {@link #local()}. */
    boolean hasServer() {
        return url != null;
    }

    /** The transport to this server; one per server and key, shared by its {@code Remote}s. */
    HttpTransport transport() {
        if (url == null) {
            throw new UnsupportedOperationException("Remote.local() has no server");
        }
        return TRANSPORTS.computeIfAbsent(url + " " + apiKey, k -> new HttpTransport(url, apiKey));
    }

    private static String setting(String property, String variable, String fallback) {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            value = System.getenv(variable);
        }
        return value == null || value.isBlank() ? fallback : value.trim();
    }

    @Override
    public String toString() {
        return "Remote[" + url() + "]";
    }
}
