package io.nnsight.server;

import io.nnsight.NNsight;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobExecutor;
import io.nnsight.server.internal.EnvAnswer;
import io.nnsight.server.internal.HttpApi;
import io.nnsight.server.internal.JobStore;
import io.nnsight.server.internal.JsonErrorHandler;
import io.nnsight.server.internal.Limits;
import io.nnsight.server.internal.LocalModel;
import io.nnsight.server.internal.ModelQueue;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.VirtualThreads;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An HTTP server that hosts models and runs the traces clients send to them: nnsight's NDIF, for a
 * laptop, a lab machine or a GPU box. The protocol is {@code docs/remote.md}.
 *
 * <pre>{@code
 * try (ModelServer server = ModelServer.builder()
 *         .model("stories260K", LanguageModel.load("path/to/stories260K"))
 *         .apiKeysFrom(Path.of("keys.txt"))
 *         .port(8642)
 *         .start()) {
 *     System.out.println("serving on " + server.url());
 *     ...
 * }
 * }</pre>
 *
 * <p><b>Jobs.</b> Each hosted model has a queue and one worker thread, which runs the model's jobs in the order
 * they came: a model runs one trace at a time. That trace may be a batch: the worker takes the oldest job with up to
 * {@linkplain Builder#batchJobs 15 more} waiting ones and runs those of equal padded length in shared forward passes
 * (each of at most {@linkplain Builder#batchRows 16 rows} and {@linkplain Builder#batchTokens 4096 tokens}), each job
 * isolated and answered as if it ran alone, within its own time limit (it is not charged for its peers' code). A
 * job too large to join a batch may be passed over by younger ones, but by at most {@linkplain Builder#batchFairness
 * 4} batches. Generations run as a continuous batch instead: each joins at a step boundary, within the same rows
 * and tokens, and is answered as soon as it is done. {@code /status} reports each model's batches and steps (jobs,
 * forward passes, rows, tokens, re-runs). A model hosted as
 * replicas elsewhere ({@link Builder#replicated}, such as Ray actors) has a worker per replica, so its jobs run as
 * many at once, one job per replica. A client follows its job's status ({@code RECEIVED}, {@code QUEUED} with its position, {@code RUNNING}, the lines its code prints, {@code
 * COMPLETED} or {@code ERROR}), on the answer to its submission if it asks, and then downloads the result, which the
 * server keeps, compressed, until it is downloaded or its time to live ({@link Builder#resultTtl}) has passed; a
 * small result (at most 1 MiB compressed) comes inline with {@code COMPLETED} when the client asks for it, so that a
 * blocking job is one HTTP exchange.
 *
 * <p><b>Security.</b> Every endpoint but {@code /ping}, {@code /env} and {@code /status} needs one of the
 * server's API keys, and a job's status and result are visible to the key that submitted it only. A server
 * without keys must be allowed explicitly ({@link Builder#allowAnonymous}); keys are compared in constant
 * time. Requests are refused when too large, compressed or decompressed, or when they arrive too slowly
 * ({@link Builder#minUploadRate}); one key may queue only so many jobs ({@link Builder#maxQueuedJobsPerKey});
 * a job's code runs within a time limit. The server listens on {@code 127.0.0.1} unless told otherwise; it
 * speaks plain HTTP, so put it behind a TLS proxy to expose it. {@code docs/security.md} gives the threat
 * model and every layer of defense.
 *
 * <p><b>Time limits.</b> The executor stops a job's code when its time limit passes. If the code has not
 * returned {@linkplain Builder#stopGrace a grace period} later, the job fails with {@code ERROR} ("did not
 * stop within ..."), the jobs waiting for that model fail, and the model takes no jobs ({@code 503}, and
 * {@code "UNAVAILABLE"} in {@code /status}) until the code returns, since it may still hold the model. The
 * other models and the server keep serving. In a batch, the member whose code is stuck fails so, and the other
 * members still running fail with it; a batch of k jobs gets at most k time limits plus the grace period.
 *
 * <p><b>Native memory.</b> Each job's native memory is freed when the job ends, and the models' weights live as long
 * as their owner: a JVM that only serves leaves nothing to the garbage collector. Such a JVM should call {@link
 * #skipPhysicalMemoryCheck()} before its first model loads ({@code nnsight serve} and the replicas on Ray do): JavaCPP
 * otherwise reads the process's resident memory each time it wraps a native object, about a third of a small
 * model's forward pass.
 *
 * <p><b>Shutdown.</b> {@link #close()} takes no more jobs, fails every waiting and running job with {@code
 * ERROR} "the server is shutting down" (which reaches the clients that follow them), and stops listening.
 * The models stay open: they belong to the caller.
 */
public final class ModelServer implements AutoCloseable {
    /** The port a server listens on unless told otherwise, and clients ask at: 8642. */
    public static final int DEFAULT_PORT = Protocol.DEFAULT_PORT;
    /**
     * JavaCPP's system property for the resident memory above which it calls the garbage collector, and then refuses,
     * before it wraps another native object; {@code 0} switches that check off.
     */
    public static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxPhysicalBytes";
    private static final Logger LOG = LoggerFactory.getLogger(ModelServer.class);
    /** How long {@link #close()} waits for the open status streams to deliver the final error. */
    private static final long STOP_TIMEOUT_MILLIS = 5_000;

    private final Server jetty;
    private final Map<String, ModelQueue> queues;
    private final ScheduledThreadPoolExecutor timer;
    private final String url;
    private final int port;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ModelServer(Server jetty, Map<String, ModelQueue> queues, ScheduledThreadPoolExecutor timer, String url,
            int port) {
        this.jetty = jetty;
        this.queues = queues;
        this.timer = timer;
        this.url = url;
        this.port = port;
    }

    /**
     * Switches off JavaCPP's physical-memory check for this JVM, unless {@code -D}{@value #MAX_PHYSICAL_BYTES} (or
     * its lower-case spelling) set a limit. The check reads the process's resident memory ({@code /proc/self/statm})
     * each time JavaCPP wraps a native object, every tensor an operation returns, to call the garbage collector for
     * native memory left to it: a third of a small model's forward pass ({@code docs/benchmarks.md}). A JVM that only
     * serves leaves no native memory to the collector, so the check costs it time and protects nothing.
     *
     * <p>JavaCPP reads the property once, when its {@code Pointer} class initialises: call this first thing in the
     * JVM's {@code main}, before any model or tensor is made; later it has no effect. Leave the check on in a JVM
     * that also runs other code, which may drop tensors without freeing them.
     */
    public static void skipPhysicalMemoryCheck() {
        if (System.getProperty(MAX_PHYSICAL_BYTES) == null
                && System.getProperty(MAX_PHYSICAL_BYTES.toLowerCase(Locale.ROOT)) == null) {
            System.setProperty(MAX_PHYSICAL_BYTES, "0");
        }
    }

    /** A builder of a server: add models, an executor and API keys (or allow anonymous use), then start. */
    public static Builder builder() {
        return new Builder();
    }

    /** The port the server listens on (the one it was given, or the one the system chose for port 0). */
    public int port() {
        return port;
    }

    /** The URL clients reach the server at on this machine: {@code http://127.0.0.1:8642}. */
    public String url() {
        return url;
    }

    /**
     * Stops the server: takes no more jobs, fails the waiting and running jobs with {@code ERROR} "the
     * server is shutting down", lets the open status streams deliver that (a few seconds at most), and stops
     * listening. A job's code that is still running is interrupted and left to finish on its daemon thread.
     * Calling it again does nothing.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LOG.info("Stopping the nnsight server at {}", url);
        for (ModelQueue queue : queues.values()) {
            queue.close("the server is shutting down");
        }
        try {
            jetty.stop();
        } catch (Exception e) {
            LOG.warn("Stopping the HTTP server of {} failed", url, e);
        }
        timer.shutdownNow();
        try {
            for (ModelQueue queue : queues.values()) {
                if (!queue.awaitWorker(Duration.ofSeconds(2))) {
                    LOG.warn("A job on model '{}' is still running after the shutdown; its thread is left to end", queue.key());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "ModelServer[" + url + ", models " + queues.keySet() + "]";
    }

    /**
     * How a {@link ModelServer} is set up. Needs at least one model, and API keys or {@link #allowAnonymous()};
     * the rest has defaults.
     */
    public static final class Builder {
        private static final Pattern MODEL_KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/-]*");

        private final Map<String, NNsight> models = new LinkedHashMap<>();
        private final Map<String, ModelReplicas> replicated = new LinkedHashMap<>();
        private final Set<String> apiKeys = new LinkedHashSet<>();
        private JobExecutor executor = new SandboxedExecutor();
        private String host = "127.0.0.1";
        private int port = DEFAULT_PORT;
        private boolean allowAnonymous;
        private long maxRequestBytes = 64L << 20;
        private long maxDecompressedRequestBytes = 256L << 20;
        private long maxResultBytes = 256L << 20;
        private Duration timeLimit = Duration.ofMinutes(5);
        private Duration stopGrace = Duration.ofSeconds(10);
        private Duration resultTtl = Duration.ofHours(1);
        private int maxQueuedJobs = 100;
        private int maxQueuedJobsPerKey = 16;
        private int batchJobs = 16;
        private int batchRows = BatchLimits.DEFAULT.rows();
        private long batchTokens = BatchLimits.DEFAULT.tokens();
        private long batchMaxRequestBytes = 1L << 20;
        private int batchFairness = 4;
        private int batchEpochSteps = JobFeed.DEFAULT_EPOCH_STEPS;
        private long minUploadRate = 16L << 10;

        private Builder() {}

        /**
         * Hosts {@code model} as {@code key}, the name clients send in {@code nnsight-model-key} (letters,
         * digits and {@code . _ : / -}, such as {@code stories260K} or {@code openai-community/gpt2}).
         */
        public Builder model(String key, NNsight model) {
            return host(key, model);
        }

        /**
         * Hosts a model as {@code key} whose jobs run on {@code replicas}, elsewhere, several at once; this server
         * keeps the front end (keys, limits, queues, status streams, results). {@code model} describes it to
         * clients ({@code /env}) and runs nothing: a copy without weights does ({@code
         * LanguageModel.Options.device("meta")}). The server closes the replicas when it stops.
         */
        public Builder replicated(String key, NNsight model, ModelReplicas replicas) {
            Objects.requireNonNull(replicas, "replicas");
            host(key, model);
            replicated.put(key, replicas);
            return this;
        }

        private Builder host(String key, NNsight model) {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(model, "model");
            if (!MODEL_KEY.matcher(key).matches()) {
                throw new IllegalArgumentException("a model key is letters, digits and . _ : / -, starting with a letter "
                        + "or digit: '" + key + "'");
            }
            if (models.putIfAbsent(key, model) != null) {
                throw new IllegalArgumentException("a model is hosted as '" + key + "' already");
            }
            return this;
        }

        /**
         * Runs the jobs: checks the shipped code, runs its trace on the model, and encodes the result. By
         * default the {@link SandboxedExecutor}, which runs shipped code in the sandbox; another executor is for
         * tests and for servers that run only code they trust.
         */
        public Builder executor(JobExecutor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** The address to listen on; {@code 127.0.0.1} by default, {@code 0.0.0.0} for every interface. */
        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        /** The port to listen on; {@value ModelServer#DEFAULT_PORT} by default, 0 for any free port. */
        public Builder port(int port) {
            if (port < 0 || port > 65_535) {
                throw new IllegalArgumentException("a port is between 0 and 65535: " + port);
            }
            this.port = port;
            return this;
        }

        /** Accepts these API keys (in addition to any given before). */
        public Builder apiKeys(Set<String> keys) {
            for (String key : keys) {
                addKey(key, "apiKeys");
            }
            return this;
        }

        /**
         * Accepts the API keys listed in {@code file}, one per line; blank lines and lines starting with
         * {@code #} are skipped.
         *
         * @throws UncheckedIOException when the file cannot be read
         * @throws IllegalArgumentException when it lists no key
         */
        public Builder apiKeysFrom(Path file) {
            int keys = 0;
            try {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    String key = line.trim();
                    if (!key.isEmpty() && !key.startsWith("#")) {
                        addKey(key, file.toString());
                        keys++;
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the API keys in " + file + ": " + e, e);
            }
            if (keys == 0) {
                throw new IllegalArgumentException("no API keys in " + file + " (one per line, # for comments)");
            }
            return this;
        }

        private void addKey(String key, String source) {
            if (key == null || key.isBlank() || !key.chars().allMatch(c -> c > 32 && c < 127)) {
                throw new IllegalArgumentException("an API key is printable ASCII without spaces; " + source
                        + " has one that is not");
            }
            apiKeys.add(key);
        }

        /**
         * Lets the server start without API keys, serving every caller: for a machine of one's own. With
         * keys, keys are required whatever this says.
         */
        public Builder allowAnonymous() {
            this.allowAnonymous = true;
            return this;
        }

        /** The largest request body, compressed; 64 MiB by default. */
        public Builder maxRequestBytes(long bytes) {
            this.maxRequestBytes = positive(bytes, "maxRequestBytes");
            return this;
        }

        /**
         * The largest request payload once decompressed; 256 MiB by default. A small body that would
         * decompress to more (a decompression bomb) is refused when it arrives.
         */
        public Builder maxDecompressedRequestBytes(long bytes) {
            this.maxDecompressedRequestBytes = positive(bytes, "maxDecompressedRequestBytes");
            return this;
        }

        /** The largest result a job may return, uncompressed; 256 MiB by default. Larger: the job fails. */
        public Builder maxResultBytes(long bytes) {
            this.maxResultBytes = positive(bytes, "maxResultBytes");
            return this;
        }

        /** How long a job's code may run; 5 minutes by default. */
        public Builder timeLimit(Duration limit) {
            this.timeLimit = positive(limit, "timeLimit");
            return this;
        }

        /**
         * How long the server waits past a job's time limit for its code to return before failing the job
         * and marking its model unavailable; 10 seconds by default. Should cover a forward pass of the
         * largest model, since the time limit is checked between the calls of the job's code.
         */
        public Builder stopGrace(Duration grace) {
            this.stopGrace = positive(grace, "stopGrace");
            return this;
        }

        /**
         * How long a finished job's status and result are kept for the client to fetch; 1 hour by default. A
         * downloaded result is gone at once, and its job's status 30 seconds later.
         */
        public Builder resultTtl(Duration ttl) {
            this.resultTtl = positive(ttl, "resultTtl");
            return this;
        }

        /** How many jobs may wait for each model; 100 by default. Beyond that, submissions get {@code 503}. */
        public Builder maxQueuedJobs(int jobs) {
            this.maxQueuedJobs = (int) positive(jobs, "maxQueuedJobs");
            return this;
        }

        /**
         * How many jobs one API key may have waiting for or running on each model; 16 by default. Beyond that,
         * that key's submissions get {@code 503} while the other keys' are queued: no key can fill a queue alone.
         */
        public Builder maxQueuedJobsPerKey(int jobs) {
            this.maxQueuedJobsPerKey = (int) positive(jobs, "maxQueuedJobsPerKey");
            return this;
        }

        /**
         * How many waiting jobs of a model in this JVM ({@link #model}) the worker takes together as one batch (one
         * call of the executor, which runs compatible traces in shared forward passes, each job isolated from the
         * others and answered as if alone); 16 by default, 1 runs each job alone. A batch's decompressed requests
         * also add up to at most {@link #maxDecompressedRequestBytes}. Replicas elsewhere ({@link #replicated}) run
         * one job at a time unless their {@link ModelReplicas#executeBatch} batches.
         */
        public Builder batchJobs(int jobs) {
            this.batchJobs = (int) positive(jobs, "batchJobs");
            return this;
        }

        /**
         * How many batch rows one forward pass holds at most, over all its jobs (a job adds one row per prompt); 16
         * by default. In a batch of traces, compatible jobs beyond it run in another forward pass of the same batch,
         * and a job with more rows runs in a pass of its own. In a continuous batch of generations, the running
         * generations hold at most this many rows together (and at most {@link #batchJobs} jobs): a generation that
         * does not fit waits, its time limit not running, until enough leave, and the generations after it wait
         * behind it; one with more rows joins once none runs.
         */
        public Builder batchRows(int rows) {
            this.batchRows = (int) positive(rows, "batchRows");
            return this;
        }

        /**
         * How many tokens one forward pass holds at most: the sum over its rows of their padded length; 4096 by
         * default. In a batch of traces, compatible jobs beyond it run in another forward pass of the same batch, and
         * a job with more tokens runs in a pass of its own. In a continuous batch of generations, it bounds the
         * prompts that join at one step boundary (their rows times their padded length), which run in that step;
         * each later step adds one token per row ({@link #batchRows}).
         */
        public Builder batchTokens(long tokens) {
            this.batchTokens = positive(tokens, "batchTokens");
            return this;
        }

        /**
         * The largest request, decompressed, that joins a batch; 1 MiB by default. A larger job runs alone (and
         * may be passed over by younger jobs, within {@link #batchFairness}): the executor keeps each member's
         * request to run it again alone if need be, so this bounds what a batch keeps.
         */
        public Builder batchMaxRequestBytes(long bytes) {
            this.batchMaxRequestBytes = positive(bytes, "batchMaxRequestBytes");
            return this;
        }

        /**
         * How many batches of younger jobs a waiting job may be passed over by (when its request does not fit in a
         * batch that younger, smaller ones fit in); 4 by default. A job passed over that often is taken in the next
         * batch: no job waits behind more than this many batches of younger jobs.
         */
        public Builder batchFairness(int batches) {
            this.batchFairness = (int) positive(batches, "batchFairness");
            return this;
        }

        /**
         * How many forward passes a continuous batch of generations admits jobs for; 256 by default. A continuous
         * batch keeps the native memory of its passes until its epoch ends: after this many passes it takes no more
         * jobs, lets the running ones finish, frees that memory and starts the next epoch with the jobs then
         * waiting. Smaller bounds the memory a batch holds; larger lets more jobs join a running batch.
         */
        public Builder batchEpochSteps(int steps) {
            this.batchEpochSteps = (int) positive(steps, "batchEpochSteps");
            return this;
        }

        /**
         * The slowest a request body may arrive once its first 5 seconds have passed, in bytes per second; 16
         * KiB/s by default. An upload that falls behind, or that sends nothing for 5 seconds, is cut off
         * ({@code 408}), so slow uploads cannot hold the server's connections.
         */
        public Builder minUploadRate(long bytesPerSecond) {
            this.minUploadRate = positive(bytesPerSecond, "minUploadRate");
            return this;
        }

        private static long positive(long value, String name) {
            if (value <= 0) {
                throw new IllegalArgumentException(name + " must be positive: " + value);
            }
            if (value > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException(name + " must be at most " + (Integer.MAX_VALUE - 8)
                        + (name.endsWith("Bytes") ? " bytes (2 GiB)" : "") + ": " + value);
            }
            return value;
        }

        private static Duration positive(Duration value, String name) {
            if (value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException(name + " must be positive: " + value);
            }
            return value;
        }

        /**
         * Starts the server: the models' workers, then the HTTP listener.
         *
         * @throws IllegalStateException when no model was given, when there are no API keys
         *     and anonymous use was not allowed, or when the address cannot be bound (the port is taken)
         */
        public ModelServer start() {
            if (models.isEmpty()) {
                throw new IllegalStateException("a server needs a model: add one with model(key, model)");
            }
            if (apiKeys.isEmpty() && !allowAnonymous) {
                throw new IllegalStateException("no API keys: give some with apiKeys(...) or apiKeysFrom(file), or call "
                        + "allowAnonymous() to serve anyone who can reach " + host + ":" + port);
            }
            Limits limits = new Limits(maxRequestBytes, maxDecompressedRequestBytes, maxResultBytes, timeLimit,
                    stopGrace, resultTtl, maxQueuedJobs, maxQueuedJobsPerKey, minUploadRate, batchJobs, batchRows, batchTokens,
                    batchMaxRequestBytes, batchFairness, batchEpochSteps);
            ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, task -> {
                Thread thread = new Thread(task, "nnsight-server-timer");
                thread.setDaemon(true);
                return thread;
            });
            timer.setRemoveOnCancelPolicy(true);
            JobStore jobs = new JobStore(resultTtl.toNanos(), Math.min(resultTtl.toNanos(), JobStore.DOWNLOADED_TTL.toNanos()));
            long sweep = Math.max(50, Math.min(JobStore.DOWNLOADED_TTL.toMillis() / 2, resultTtl.toMillis() / 2));
            timer.scheduleWithFixedDelay(jobs::sweep, sweep, sweep, TimeUnit.MILLISECONDS);
            Map<String, ModelQueue> queues = new LinkedHashMap<>();
            models.forEach((key, model) -> queues.put(key, new ModelQueue(key,
                    replicated.getOrDefault(key, new LocalModel(model, executor)), limits, timer)));
            HttpApi api = new HttpApi(queues, jobs, Set.copyOf(apiKeys), limits, EnvAnswer.describe(models));

            QueuedThreadPool threads = new QueuedThreadPool(256);
            threads.setName("nnsight-http");
            if (VirtualThreads.areSupported()) {
                threads.setVirtualThreadsExecutor(VirtualThreads.getNamedVirtualThreadsExecutor("nnsight-http-virtual"));
            }
            Server jetty = new Server(threads);
            HttpConfiguration http = new HttpConfiguration();
            http.setSendServerVersion(false);
            http.setSendXPoweredBy(false);
            ServerConnector connector = new ServerConnector(jetty, new HttpConnectionFactory(http));
            connector.setHost(host);
            connector.setPort(port);
            connector.setIdleTimeout(Protocol.HEARTBEAT.toMillis() * 4);
            jetty.addConnector(connector);
            jetty.setHandler(new GracefulHandler(api));
            jetty.setErrorHandler(new JsonErrorHandler());
            jetty.setStopTimeout(STOP_TIMEOUT_MILLIS);
            queues.values().forEach(ModelQueue::start);
            try {
                jetty.start();
            } catch (Exception e) {
                queues.values().forEach(queue -> queue.close("the server did not start"));
                timer.shutdownNow();
                try {
                    jetty.stop();
                } catch (Exception stopFailure) {
                    e.addSuppressed(stopFailure);
                }
                throw new IllegalStateException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
            }
            int bound = connector.getLocalPort();
            ModelServer server = new ModelServer(jetty, queues, timer, "http://" + urlHost(host) + ":" + bound, bound);
            LOG.info("nnsight server {} listening on {}, hosting {}", Protocol.VERSION, server.url(), queues.keySet());
            return server;
        }

        private static String urlHost(String host) {
            if (host.equals("0.0.0.0") || host.equals("::") || host.isEmpty()) {
                return "127.0.0.1";
            }
            return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
        }
    }
}
