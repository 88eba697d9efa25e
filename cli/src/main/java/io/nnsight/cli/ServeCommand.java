package io.nnsight.cli;

import io.nnsight.lm.LanguageModel;
import io.nnsight.safetensors.DType;
import io.nnsight.server.ModelReplicas;
import io.nnsight.server.ModelServer;
import io.nnsight.server.ReplicaHost;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code nnsight serve}: hosts language models for remote traces ({@code Remote.on(url)}) until stopped
 * with Ctrl-C or a {@code SIGTERM}. Jobs run in the sandbox; callers need one of the API keys unless the
 * server is started with {@code --allow-anonymous}.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Host language models for remote traces (Remote.on(url) in Java) until stopped with Ctrl-C.",
            "Callers need one of the API keys: from --api-keys FILE, else from the environment variable "
                + ServeCommand.KEYS_VARIABLE + " (comma separated); or serve without keys with --allow-anonymous."})
final class ServeCommand implements Callable<Integer> {
    /** The environment variable that lists API keys, comma separated, when no key file is given. */
    static final String KEYS_VARIABLE = "NNSIGHT_API_KEYS";

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR|ID",
            description = "A Hugging Face model folder or hub repository id to host, under its folder name or id "
                    + "(its LanguageModel.key()). Repeat to host several.")
    List<String> models;

    @Mixin
    PlacementOptions placement = new PlacementOptions();

    @Option(names = "--ray", paramLabel = "ADDRESS", arity = "0..1", fallbackValue = "",
            description = "Host each model as replicas, Ray actors on the nodes of a Ray cluster (its head's host:port; "
                    + "without one, the cluster this machine runs), with this server as their front end.")
    String ray;

    @Option(names = "--replicas", paramLabel = "N", defaultValue = "2",
            description = "With --ray: how many replicas of each model (default: ${DEFAULT-VALUE}).")
    int replicas;

    @Option(names = "--ray-jar", paramLabel = "FILE",
            description = "With --ray: Ray's Java runtime, the ray_dist.jar of the Ray installation whose cluster it "
                    + "joins (default: " + RayCluster.JAR_VARIABLE + ", else found from the 'ray' command on the PATH).")
    Path rayJar;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "The address to listen on (default: ${DEFAULT-VALUE}, this machine only; 0.0.0.0 for every "
                    + "interface, behind a TLS proxy).")
    String host;

    @Option(names = {"-p", "--port"}, paramLabel = "PORT", defaultValue = "" + ModelServer.DEFAULT_PORT,
            description = "The port (default: ${DEFAULT-VALUE}; 0 for any free port).")
    int port;

    @ArgGroup(exclusive = true)
    Access access;

    /** Where the API keys come from, or none at all. */
    static final class Access {
        @Option(names = "--api-keys", paramLabel = "FILE",
                description = "A file of API keys, one per line (# starts a comment).")
        Path keyFile;

        @Option(names = "--allow-anonymous",
                description = "Serve without API keys: anyone who can reach the address may run code on the models.")
        boolean anonymous;
    }

    @Option(names = "--time-limit", paramLabel = "DURATION", defaultValue = "5m", converter = SizesAndDurations.DurationConverter.class,
            description = "How long a job's code may run (default: ${DEFAULT-VALUE}; 90s, 10m, 1h).")
    Duration timeLimit;

    @Option(names = "--max-request-size", paramLabel = "SIZE", defaultValue = "64M", converter = SizesAndDurations.SizeConverter.class,
            description = "The largest request, compressed (default: ${DEFAULT-VALUE}; 512K, 1G). Decompressed it may be "
                    + "4 times as large, at least 256M.")
    long maxRequestBytes;

    @Option(names = "--max-result-size", paramLabel = "SIZE", defaultValue = "256M", converter = SizesAndDurations.SizeConverter.class,
            description = "The largest result of a job, uncompressed (default: ${DEFAULT-VALUE}).")
    long maxResultBytes;

    @Option(names = "--max-queued-jobs", paramLabel = "N", defaultValue = "100",
            description = "How many jobs may wait for each model; more are refused (default: ${DEFAULT-VALUE}).")
    int maxQueuedJobs;

    @Option(names = "--max-queued-jobs-per-key", paramLabel = "N", defaultValue = "16",
            description = "How many jobs one API key may have waiting for or running on each model; more are refused "
                    + "while other keys' are queued (default: ${DEFAULT-VALUE}).")
    int maxQueuedJobsPerKey;

    @Option(names = "--batch-jobs", paramLabel = "N", defaultValue = "16",
            description = "How many waiting jobs the model takes together as one batch, whose traces of equal padded "
                    + "length share forward passes, each job isolated and answered as alone (default: "
                    + "${DEFAULT-VALUE}; 1 runs each job alone). A batch's requests add up to at most the largest "
                    + "decompressed request. Replicas on Ray batch alike, each batch in one replica, its "
                    + "generations one continuous batch.")
    int batchJobs;

    @Option(names = "--batch-rows", paramLabel = "N", defaultValue = "16",
            description = "How many batch rows (prompts) one shared forward pass holds at most; more traces of a "
                    + "batch run in further passes, and a job with more rows in a pass of its own; running "
                    + "generations hold at most this many rows together, and one that does not fit waits until "
                    + "others leave (default: ${DEFAULT-VALUE}).")
    int batchRows;

    @Option(names = "--batch-tokens", paramLabel = "N", defaultValue = "4096",
            description = "How many tokens one shared forward pass holds at most, summed over its rows at their "
                    + "padded length; more traces run in further passes, more generations' prompts at the next "
                    + "step (default: ${DEFAULT-VALUE}).")
    long batchTokens;

    @Option(names = "--batch-max-request", paramLabel = "SIZE", defaultValue = "1M", converter = SizesAndDurations.SizeConverter.class,
            description = "The largest request, decompressed, that joins a batch; larger jobs run alone (default: "
                    + "${DEFAULT-VALUE}). Bounds what a batch keeps to run a member again alone.")
    long batchMaxRequestBytes;

    @Option(names = "--batch-fairness", paramLabel = "N", defaultValue = "4",
            description = "How many batches of younger jobs a waiting job that cannot join them (too large) may be "
                    + "passed over by before it runs (default: ${DEFAULT-VALUE}).")
    int batchFairness;

    @Option(names = "--batch-epoch-steps", paramLabel = "N", defaultValue = "256",
            description = "How many forward passes a continuous batch of generations takes new jobs for before it "
                    + "lets its jobs finish and frees its memory (default: ${DEFAULT-VALUE}); bounds a batch's memory.")
    int batchEpochSteps;

    @Option(names = "--min-upload-rate", paramLabel = "SIZE", defaultValue = "16K", converter = SizesAndDurations.SizeConverter.class,
            description = "The slowest a request may arrive, in bytes per second after its first 5 s; slower uploads, "
                    + "and uploads that pause for 5 s, are cut off (default: ${DEFAULT-VALUE}).")
    long minUploadRate;

    @Option(names = "--result-ttl", paramLabel = "DURATION", defaultValue = "1h", converter = SizesAndDurations.DurationConverter.class,
            description = "How long a finished job's result waits to be downloaded (default: ${DEFAULT-VALUE}).")
    Duration resultTtl;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Reads environment variables; the tests give their own. */
    Function<String, String> environment = System::getenv;

    private final CountDownLatch ready = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private ModelServer server;

    @Override
    public Integer call() throws InterruptedException {
        try {
            return serve();
        } finally {
            ready.countDown(); // also when it failed to start: awaitUrl need not wait for nothing
        }
    }

    private int serve() throws InterruptedException {
        ModelServer.skipPhysicalMemoryCheck(); // this JVM only serves: before the first model loads
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        requirePositive("--max-queued-jobs", maxQueuedJobs);
        requirePositive("--max-queued-jobs-per-key", maxQueuedJobsPerKey);
        requirePositive("--batch-jobs", batchJobs);
        requirePositive("--batch-rows", batchRows);
        requirePositive("--batch-tokens", batchTokens);
        requirePositive("--batch-fairness", batchFairness);
        requirePositive("--batch-epoch-steps", batchEpochSteps);
        ModelServer.Builder builder = ModelServer.builder()
                .host(host)
                .port(port)
                .timeLimit(timeLimit)
                .maxRequestBytes(maxRequestBytes)
                .maxDecompressedRequestBytes(Math.max(256L << 20, Math.min(4 * maxRequestBytes, SizesAndDurations.MAX_BYTES)))
                .maxResultBytes(maxResultBytes)
                .maxQueuedJobs(maxQueuedJobs)
                .maxQueuedJobsPerKey(maxQueuedJobsPerKey)
                .batchJobs(batchJobs)
                .batchRows(batchRows)
                .batchTokens(batchTokens)
                .batchMaxRequestBytes(batchMaxRequestBytes)
                .batchFairness(batchFairness)
                .batchEpochSteps(batchEpochSteps)
                .minUploadRate(minUploadRate)
                .resultTtl(resultTtl);
        boolean anonymous = apiKeys(builder);

        requirePositive("--replicas", replicas);
        ReplicaHost cluster = ray == null ? null : RayCluster.host(rayJar, environment);
        Map<String, String> hosted = new LinkedHashMap<>();
        for (String model : models) {
            if (cluster != null) {
                LanguageModel description = replicate(cluster, model, builder, err);
                hosted.putIfAbsent(description.key(), model);
                continue;
            }
            LanguageModel lm = ModelOptions.load(model, null, placement, Progress.onTerminal(err));
            String earlier = hosted.putIfAbsent(lm.key(), model);
            if (earlier != null) {
                throw new IllegalArgumentException("--model " + earlier + " and --model " + model + " are both named '"
                        + lm.key() + "': a server hosts one model under each name");
            }
            builder.model(lm.key(), lm);
        }

        Thread hook = new Thread(this::stop, "nnsight-serve-shutdown");
        ModelServer started;
        synchronized (this) {
            if (stopped.getCount() == 0) {
                return 0;
            }
            started = builder.start();
            server = started;
            Runtime.getRuntime().addShutdownHook(hook);
        }
        if (anonymous) {
            err.println("nnsight: serving without API keys: anyone who can reach " + host + ":" + started.port()
                    + " may run code on these models");
        }
        out.println("nnsight: serving " + String.join(", ", hosted.keySet()) + " on " + started.url());
        out.flush();
        ready.countDown();
        try {
            stopped.await();
        } finally {
            stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is what stopped the server
            }
        }
        return 0;
    }

    /**
     * Starts {@code --replicas} replicas of {@code model} on the Ray cluster, and has the builder host them, with a
     * copy of the model without weights (on the meta device) describing it to clients.
     */
    private LanguageModel replicate(ReplicaHost cluster, String model, ModelServer.Builder builder, PrintWriter err) {
        String where = Files.isDirectory(Path.of(model)) ? Path.of(model).toAbsolutePath().toString() : model;
        LanguageModel.Options withoutWeights = LanguageModel.Options.defaults().device("meta");
        LanguageModel description = LanguageModel.load(where,
                placement.dtype == null ? withoutWeights : withoutWeights.dtype(DType.parse(placement.dtype)));
        err.println("nnsight: starting " + replicas + " replicas of " + model + " on Ray" + (ray.isEmpty() ? "" : " at " + ray)
                + " ...");
        err.flush();
        ModelReplicas started = cluster.start(ray.isEmpty() ? null : ray, where, RayCluster.settings(placement), replicas);
        try {
            builder.replicated(description.key(), description, started);
        } catch (RuntimeException e) {
            started.close();
            throw e;
        }
        return description;
    }

    /**
     * Gives the builder the API keys of {@code --api-keys} or {@value #KEYS_VARIABLE}, or allows anonymous
     * use for {@code --allow-anonymous}; returns whether the server is anonymous.
     */
    private boolean apiKeys(ModelServer.Builder builder) {
        String variable = environment.apply(KEYS_VARIABLE);
        Set<String> fromVariable = new LinkedHashSet<>();
        if (variable != null) {
            for (String key : variable.split(",")) {
                if (!key.isBlank()) {
                    fromVariable.add(key.strip());
                }
            }
        }
        if (access != null && access.anonymous) {
            if (!fromVariable.isEmpty()) {
                throw new IllegalArgumentException("--allow-anonymous serves without API keys, but " + KEYS_VARIABLE
                        + " lists some: unset " + KEYS_VARIABLE + " or leave out --allow-anonymous");
            }
            builder.allowAnonymous();
            return true;
        }
        if (access != null && access.keyFile != null) {
            builder.apiKeysFrom(access.keyFile);
        } else if (!fromVariable.isEmpty()) {
            builder.apiKeys(fromVariable);
        } else {
            throw new IllegalArgumentException("no API keys, so no one could use the server: give a file of keys with "
                    + "--api-keys FILE (one per line), or set " + KEYS_VARIABLE + "=key1,key2; or pass --allow-anonymous "
                    + "to serve anyone who can reach " + host + ":" + port + " without a key");
        }
        return false;
    }

    /** Stops serving: closes the server (failing its waiting and running jobs) and lets {@link #call()} return. */
    void stop() {
        ModelServer running;
        synchronized (this) {
            running = server;
            server = null;
            stopped.countDown();
        }
        if (running != null) {
            running.close();
            spec.commandLine().getOut().println("nnsight: stopped serving on " + running.url());
            spec.commandLine().getOut().flush();
        }
    }

    /**
     * The server's URL once it serves, waiting at most {@code timeout}; {@code null} if it does not serve by then,
     * failed to start, or was stopped.
     */
    String awaitUrl(Duration timeout) throws InterruptedException {
        if (!ready.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return null;
        }
        synchronized (this) {
            return server == null ? null : server.url();
        }
    }

    /** Refuses an option that must count something but was given {@code value}, naming the option. */
    private static void requirePositive(String option, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(option + " must be positive: " + value);
        }
    }
}
