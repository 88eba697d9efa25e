package io.nnsight.bench;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.management.OperatingSystemMXBean;
import io.nnsight.BodyEngine;
import io.nnsight.Tensors;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import io.nnsight.remote.internal.shipping.Shipment;
import io.nnsight.server.ModelServer;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.global.torch;

/**
 * Co-batching under load (issue 14, step 6 of the co-batching plan): one JVM starts a loopback {@link ModelServer} on
 * stories260K that runs one job at a time ({@code batchJobs(1)}), then one that batches waiting jobs (the default,
 * {@code batchJobs(16)}), one after the other, and drives each with 16 client threads, each sending short traces
 * ({@code lm.on(remote).trace(prompt, tr -> argmax of lm_head's last position)}) back to back, one in flight per
 * client, for a warm-up and then a measured window. The batching server is driven twice: with 16 prompts of one token
 * length (jobs of equal length share a forward pass), then with prompts of mixed lengths (each length of a batch is
 * a forward pass of its own).
 *
 * <p>The generation stage (modes {@code gen-one} and {@code gen}) drives a one-at-a-time server and a batching one
 * the same way with greedy generations of {@value #GENERATED_TOKENS} tokens after the mixed-length prompts ({@code
 * lm.on(remote).generate(prompt, Generation.maxNewTokens(20), tr -> lm.generator().output())}): on the batching
 * server they run as one continuous batch, each joining at a step boundary and answered as it leaves. Mode {@code
 * gen-long} has every other client generate {@value #LONG_TOKENS} tokens instead, and times the {@value
 * #GENERATED_TOKENS}-token generations only: how long a short generation waits among long ones.
 *
 * <p>Reported per mode: jobs per second and the ratio to one-at-a-time (measured in the same run), latency p50, p90,
 * p99 and max, the batch size from the server's {@code /status} ({@code "batch": {"last", "mean", "max"}}, in jobs; its mean is
 * over the last 100 batches, read at the end of the window, and "sampled" is the mean of {@code last} read every 100
 * ms), how many answers differ from the prompt's top token traced locally, and CPU per job: the model worker thread's
 * (reading and checking the job, the forward pass, encoding), the client threads' (shipping, Kryo, HTTP) and the whole
 * process's (with the HTTP server, GC and JIT). Clients and server share the machine's cores. A line per mode gives the
 * process's resident memory, the Java heap's committed memory and JavaCPP's count of live native objects at the start
 * and the end of the measured window: resident memory that grows beyond the heap's growth is native memory that
 * clients and server leave behind (each client frees a job's result tensors with a {@code PointerScope}, as a loop of
 * jobs should). The JVM skips JavaCPP's
 * physical-memory check, as {@code nnsight serve} does ({@link ModelServer#skipPhysicalMemoryCheck()}). Each mode is
 * warmed up for 20 s by default: the JIT compiles for about 30 s after the JVM starts, and a shorter warm-up measures
 * the first mode (one at a time) while it still does.
 *
 * <p><b>Rounds.</b> A shared machine's speed drifts over minutes (other tenants, the host), and one mode measured
 * after the other takes the drift into their ratio. With {@code --rounds R} the modes run in turn R times, each time
 * on a new server, measured for {@code --measure} seconds each time and warmed up for {@code --warmup} seconds the
 * first time and {@value #REWARM_SECONDS} s after (the JIT has compiled by then; the clients reach their steady state).
 * The table sums each mode's rounds; a line after it gives each round's throughput per mode, and each round's ratio of
 * a batching mode to one at a time with the median of those ratios, which drift between rounds does not move.
 *
 * <p>Not a JMH benchmark: the clients are threads of their own and the measure is the server's throughput. Run it from
 * the project folder (it reads {@code ../shared/models/stories260K}), with {@code jdk.internal.vm} exported so that
 * trace bodies run as continuations on the model's thread, as {@code nnsight serve} runs them on JDK 21+ (without it,
 * on threads of their own):
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-exports java.base/jdk.internal.vm=ALL-UNNAMED \
 *     -cp jmh/target/benchmarks.jar io.nnsight.bench.ServeLoadBenchmark
 * java ... io.nnsight.bench.ServeLoadBenchmark --clients 16 --warmup 20 --measure 20 --modes one,equal,mixed,gen-one,gen
 * java ... io.nnsight.bench.ServeLoadBenchmark --modes one,equal --warmup 20 --measure 10 --rounds 5
 * </pre>
 *
 * <p>With {@code --url URL} it drives a running server instead (anonymous jobs; {@code nnsight serve
 * --allow-anonymous}), such as one whose replicas run on Ray, with the server's own batching: the modes then choose
 * only the prompts and whether the clients generate, and the server's threads are not in this JVM, so their CPU is
 * not measured.
 */
public final class ServeLoadBenchmark {
    private static final String[] WHO = {"Tom", "Lily", "a cat", "a dog", "Mom", "Ben", "Sue", "a bird", "Dad", "the boy"};
    private static final String[] WHAT = {"a ball", "the sun", "a tree", "a car", "the sky", "a cake", "a toy",
        "the park", "a fish", "a red hat"};
    private static final int TARGET_TOKENS = 8;
    /** The prefix of a generation's entry among the expected answers. */
    private static final String GENERATE = "generate: ";
    private static final String MODES = "the modes are one, equal, mixed, gen-one, gen and gen-long: ";
    /** The warm-up of every round after the first ({@code --rounds}), in seconds. */
    private static final double REWARM_SECONDS = 5;

    private ServeLoadBenchmark() {}

    /** The job each client sends, in a class of its own so that the shipment is a small user class. */
    static final class Client {
        static LanguageModel lm;

        private Client() {}

        /** The model's top next token after {@code prompt}, computed on the server. */
        static long nextToken(Remote server, String prompt) {
            return lm.on(server).trace(prompt, tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long());
        }

        /** The ids of a greedy generation of {@code tokens} tokens after {@code prompt}, on the server. */
        static String generate(Remote server, String prompt, int tokens) {
            return Arrays.toString(Tensors.longs(lm.on(server).generate(prompt,
                    Generation.maxNewTokens(tokens), tr -> lm.generator().output()).flatten()));
        }
    }

    /** The tokens each job of the generation stage generates. */
    static final int GENERATED_TOKENS = 20;
    /** The tokens the other half of the clients generate in mode {@code gen-long}. */
    static final int LONG_TOKENS = 200;

    /**
     * One mode: the server's batching, the prompts the clients cycle through, whether they generate ({@value
     * #GENERATED_TOKENS} greedy tokens) or trace, and whether every other client generates {@value #LONG_TOKENS}
     * tokens instead (then only the others' jobs are counted and timed: how long a short generation waits among
     * long ones).
     */
    private record Mode(String name, int batchJobs, List<String> prompts, boolean generates, boolean amongLong) {
        Mode(String name, int batchJobs, List<String> prompts, boolean generates) {
            this(name, batchJobs, prompts, generates, false);
        }

        /** How many tokens {@code client} generates. */
        int tokens(int client) {
            return amongLong && client % 2 == 1 ? LONG_TOKENS : GENERATED_TOKENS;
        }
    }

    /** What one mode measured. */
    private record Result(Mode mode, long jobs, long untimed, long failures, long wrong, double seconds,
            long[] latenciesNanos,
            JsonObject batch, double sampledLast, long workerCpuNanos, long clientCpuNanos, long processCpuNanos) {
        double jobsPerSecond() {
            return jobs / seconds;
        }

        double latencyMillis(double quantile) {
            if (latenciesNanos.length == 0) {
                return Double.NaN;
            }
            int index = (int) Math.ceil(quantile * latenciesNanos.length) - 1;
            return latenciesNanos[Math.max(0, Math.min(latenciesNanos.length - 1, index))] / 1e6;
        }

        double cpuMillisPerJob(long nanos) {
            return jobs == 0 ? Double.NaN : nanos / 1e6 / jobs;
        }

        /**
         * This mode's rounds as one measurement: counts, times, latencies and CPU summed; the batch sizes of the last
         * round, the sampled mean over all of them.
         */
        static Result of(List<Result> rounds) {
            Result last = rounds.get(rounds.size() - 1);
            return new Result(last.mode, rounds.stream().mapToLong(Result::jobs).sum(),
                    rounds.stream().mapToLong(Result::untimed).sum(), rounds.stream().mapToLong(Result::failures).sum(),
                    rounds.stream().mapToLong(Result::wrong).sum(), rounds.stream().mapToDouble(Result::seconds).sum(),
                    rounds.stream().flatMapToLong(r -> Arrays.stream(r.latenciesNanos)).sorted().toArray(), last.batch,
                    rounds.stream().mapToDouble(Result::sampledLast).average().orElse(Double.NaN),
                    rounds.stream().mapToLong(Result::workerCpuNanos).sum(),
                    rounds.stream().mapToLong(Result::clientCpuNanos).sum(),
                    rounds.stream().mapToLong(Result::processCpuNanos).sum());
        }
    }

    public static void main(String[] args) throws Exception {
        ModelServer.skipPhysicalMemoryCheck(); // as nnsight serve does, before the first tensor
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        int clients = 16;
        double warmup = 20;
        double measure = 20;
        int rounds = 1;
        List<String> chosen = List.of("one", "equal", "mixed", "gen-one", "gen");
        String url = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--clients" -> clients = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Double.parseDouble(args[++i]);
                case "--measure" -> measure = Double.parseDouble(args[++i]);
                case "--modes" -> chosen = List.of(args[++i].split(","));
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--url" -> url = args[++i];
                default -> {
                    System.err.println("usage: ServeLoadBenchmark [--clients N] [--warmup SECONDS] [--measure SECONDS]"
                            + " [--rounds R] [--modes one,equal,mixed,gen-one,gen,gen-long] [--url URL]");
                    System.exit(2);
                }
            }
        }
        GradMode.set_enabled(false);
        LanguageModel lm = LanguageModel.load(Shared.path("models/stories260K").toString());
        Client.lm = lm;
        // A class from a jar on the class path counts as a library's, which stays behind: ship this one, as a user's
        // library registered with Ndif.register would be (which refuses io.nnsight packages).
        Shipment.register(Client.class.getName());
        Map<Long, List<String>> byLength = promptsByLength(lm);
        List<String> equal = equalLength(byLength, 16);
        List<String> varied = mixedLength(byLength, 16);
        Map<String, Object> expected = new HashMap<>();
        for (String prompt : concat(equal, varied)) {
            expected.put(prompt, lm.trace(prompt, tr -> lm.get("lm_head").output().select(1, -1).argmax().item_long()));
            for (int tokens : List.of(GENERATED_TOKENS, LONG_TOKENS)) {
                expected.put(GENERATE + tokens + " " + prompt, Arrays.toString(Tensors.longs(lm.generate(prompt,
                        Generation.maxNewTokens(tokens), tr -> lm.generator().output()).flatten())));
            }
        }
        if (rounds < 1) {
            throw new IllegalArgumentException("--rounds must be at least 1, got " + rounds);
        }
        System.out.printf(Locale.ROOT, "stories260K; %d clients, %.0f s warm-up, %.0f s measured per mode%s; engine %s, "
                + "libtorch threads %d, %d processors%n", clients, warmup, measure, rounds == 1 ? ""
                : String.format(Locale.ROOT, " in each of %d rounds (%.0f s warm-up after the first)", rounds,
                        Math.min(warmup, REWARM_SECONDS)), BodyEngine.configured().property(),
                torch.get_num_threads(), Runtime.getRuntime().availableProcessors());
        System.out.println("equal-length prompts (" + tokens(lm, equal.get(0)) + " tokens with BOS): " + equal);
        List<Long> lengths = varied.stream().map(prompt -> tokens(lm, prompt)).toList();
        System.out.println("mixed-length prompts (" + lengths + " tokens): " + varied);

        if (url != null) {
            System.out.println("driving the server at " + url + " (anonymous), with its own batching: the modes choose only "
                    + "the prompts and whether to generate; its worker threads' CPU is not measured");
        }
        List<Mode> modes = new ArrayList<>();
        for (String mode : chosen) {
            modes.add(url != null ? switch (mode) {
                case "one", "equal" -> new Mode("equal lengths, at " + url, 0, equal, false);
                case "mixed" -> new Mode("mixed lengths, at " + url, 0, varied, false);
                case "gen-one", "gen" -> new Mode("generations, at " + url, 0, varied, true);
                case "gen-long" -> new Mode(GENERATED_TOKENS + "-token generations among " + LONG_TOKENS + "-token ones, "
                        + "at " + url, 0, varied, true, true);
                default -> throw new IllegalArgumentException(MODES + mode);
            } : switch (mode) {
                case "one" -> new Mode("one at a time (batchJobs 1)", 1, equal, false);
                case "equal" -> new Mode("batching (batchJobs 16), equal lengths", 16, equal, false);
                case "mixed" -> new Mode("batching (batchJobs 16), mixed lengths", 16, varied, false);
                case "gen-one" -> new Mode("generations, one at a time (batchJobs 1)", 1, varied, true);
                case "gen" -> new Mode("generations, continuous (batchJobs 16)", 16, varied, true);
                case "gen-long" -> new Mode(GENERATED_TOKENS + "-token generations among " + LONG_TOKENS + "-token ones, "
                        + "continuous (batchJobs 16)", 16, varied, true, true);
                default -> throw new IllegalArgumentException(MODES + mode);
            });
        }
        List<List<Result>> byMode = new ArrayList<>();
        modes.forEach(mode -> byMode.add(new ArrayList<>()));
        for (int round = 0; round < rounds; round++) {
            for (int m = 0; m < modes.size(); m++) {
                Mode mode = modes.get(m);
                Result result = run(lm, mode, url, clients, round == 0 ? warmup : Math.min(warmup, REWARM_SECONDS),
                        measure, expected);
                byMode.get(m).add(result);
                System.out.printf(Locale.ROOT, "%s%s: %d jobs in %.1f s (and %d long ones, not timed), %d failed, %d "
                        + "wrong; /status batch %s%n", mode.name, rounds == 1 ? "" : ", round " + (round + 1),
                        result.jobs, result.seconds, result.untimed, result.failures, result.wrong, result.batch);
            }
        }
        print(byMode.stream().map(Result::of).toList());
        if (rounds > 1) {
            printRounds(byMode);
        }
    }

    /**
     * Each round's throughput per mode, and each round's ratio of every batching mode to the one-at-a-time mode of the
     * same kind (traces or generations) in that round, with the median of those ratios.
     */
    private static void printRounds(List<List<Result>> byMode) {
        System.out.println();
        for (List<Result> rounds : byMode) {
            Mode mode = rounds.get(0).mode;
            StringBuilder line = new StringBuilder(mode.name + ", jobs/s per round:");
            rounds.forEach(r -> line.append(String.format(Locale.ROOT, " %.1f", r.jobsPerSecond())));
            List<Result> baseline = byMode.stream()
                    .filter(other -> other.get(0).mode.batchJobs == 1 && other.get(0).mode.generates == mode.generates)
                    .findFirst().orElse(null);
            if (mode.batchJobs != 1 && baseline != null) {
                double[] ratios = new double[rounds.size()];
                for (int i = 0; i < ratios.length; i++) {
                    ratios[i] = rounds.get(i).jobsPerSecond() / baseline.get(i).jobsPerSecond();
                }
                line.append("; × one at a time per round:");
                Arrays.stream(ratios).forEach(ratio -> line.append(String.format(Locale.ROOT, " %.2f", ratio)));
                Arrays.sort(ratios);
                double median = ratios.length % 2 == 1 ? ratios[ratios.length / 2]
                        : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2;
                line.append(String.format(Locale.ROOT, "; median %.2f", median));
            }
            System.out.println(line);
        }
    }

    /** Drives the server at {@code url}, or, when it is {@code null}, one of its own batching as the mode says. */
    private static Result run(LanguageModel lm, Mode mode, String url, int clients, double warmup, double measure,
            Map<String, Object> expected) throws Exception {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        try (ModelServer server = url != null ? null : ModelServer.builder().model(lm.key(), lm).allowAnonymous().port(0)
                .batchJobs(mode.batchJobs).maxQueuedJobsPerKey(Math.max(16, 2 * clients)).start()) {
            String base = server != null ? server.url() : url;
            Remote remote = Remote.on(base).quiet();
            HttpClient http = HttpClient.newHttpClient();
            URI status = URI.create(base + "/status");
            long start = System.nanoTime();
            long measureStart = start + (long) (warmup * 1e9);
            long measureEnd = measureStart + (long) (measure * 1e9);
            AtomicLong failures = new AtomicLong();
            AtomicLong failuresPrinted = new AtomicLong();
            AtomicLong wrong = new AtomicLong();
            AtomicLong untimed = new AtomicLong();
            List<long[]> latencies = new ArrayList<>();
            List<Thread> workers = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                long[] own = new long[1 << 16];
                latencies.add(own);
                int tokens = mode.tokens(client);
                boolean timed = tokens == GENERATED_TOKENS; // among long generations, the short ones only
                Thread thread = new Thread(() -> {
                    int count = 0;
                    for (int k = client; System.nanoTime() < measureEnd; k++) {
                        String prompt = mode.prompts.get(k % mode.prompts.size());
                        long t0 = System.nanoTime();
                        Object answer;
                        // the job's result tensors are freed with it, as a client that runs jobs in a loop should
                        try (PointerScope scope = new PointerScope()) {
                            answer = mode.generates ? Client.generate(remote, prompt, tokens)
                                    : Client.nextToken(remote, prompt);
                        } catch (RuntimeException e) {
                            long t1 = System.nanoTime();
                            if (t1 >= measureStart && t1 <= measureEnd) {
                                failures.incrementAndGet();
                            }
                            if (failuresPrinted.incrementAndGet() <= 3) {
                                System.err.println("a job failed: " + e);
                            }
                            continue;
                        }
                        long t1 = System.nanoTime();
                        if (t1 >= measureStart && t1 <= measureEnd) {
                            if (timed) {
                                own[count++] = t1 - t0;
                            } else {
                                untimed.incrementAndGet();
                            }
                            if (!answer.equals(expected.get(mode.generates ? GENERATE + tokens + " " + prompt : prompt))) {
                                wrong.incrementAndGet();
                            }
                        }
                    }
                    own[own.length - 1] = count; // the count, in the last slot
                }, "load-client-" + c);
                workers.add(thread);
            }
            workers.forEach(Thread::start);
            sleepUntil(measureStart);
            Map<Long, ThreadCpu> before = cpu(threads);
            long residentBefore = Pointer.physicalBytes();
            long heapBefore = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
            long nativeBefore = Pointer.totalCount();
            long processBefore = os.getProcessCpuTime();
            double sampledSum = 0;
            int samples = 0;
            while (System.nanoTime() + 100_000_000L < measureEnd) {
                Thread.sleep(100);
                sampledSum += batch(http, status).getAsJsonObject("last").get("jobs").getAsInt();
                samples++;
            }
            sleepUntil(measureEnd);
            Map<Long, ThreadCpu> after = cpu(threads);
            long residentAfter = Pointer.physicalBytes();
            long heapAfter = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
            long nativeAfter = Pointer.totalCount();
            long processAfter = os.getProcessCpuTime();
            JsonObject batch = batch(http, status);
            for (Thread worker : workers) {
                worker.join();
            }
            long workerCpu = 0;
            long clientCpu = 0;
            Map<String, Long> byGroup = new TreeMap<>();
            for (Map.Entry<Long, ThreadCpu> entry : after.entrySet()) {
                ThreadCpu earlier = before.get(entry.getKey());
                long used = entry.getValue().nanos - (earlier == null ? 0 : earlier.nanos);
                String name = entry.getValue().name;
                if (name.startsWith("nnsight-model-")) {
                    workerCpu += used;
                } else if (name.startsWith("load-client-")) {
                    clientCpu += used;
                }
                byGroup.merge(name.replaceAll("[0-9]+", "N"), used, Long::sum);
            }
            List<Long> all = new ArrayList<>();
            for (long[] own : latencies) {
                for (int i = 0; i < own[own.length - 1]; i++) {
                    all.add(own[i]);
                }
            }
            long[] sorted = all.stream().mapToLong(Long::longValue).sorted().toArray();
            StringBuilder groups = new StringBuilder(mode.name + ": CPU ms per job by thread (virtual "
                    + "threads count in their carriers):");
            byGroup.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(8)
                    .forEach(entry -> groups.append(String.format(Locale.ROOT, " %s %.2f;", entry.getKey(),
                            sorted.length == 0 ? Double.NaN : entry.getValue() / 1e6 / sorted.length)));
            System.out.println(groups);
            System.out.printf(Locale.ROOT, "%s: over the measured window, the process's resident memory %.1f -> %.1f MB "
                    + "(the Java heap's committed memory %.1f -> %.1f MB), JavaCPP's live native objects %d -> %d%n",
                    mode.name, residentBefore / 1048576.0, residentAfter / 1048576.0, heapBefore / 1048576.0,
                    heapAfter / 1048576.0, nativeBefore, nativeAfter);
            return new Result(mode, sorted.length, untimed.get(), failures.get(), wrong.get(), measure, sorted, batch,
                    samples == 0 ? Double.NaN : sampledSum / samples, workerCpu, clientCpu, processAfter - processBefore);
        }
    }

    private static void print(List<Result> results) {
        System.out.println();
        System.out.println("| mode | jobs/s | tokens/s | × one at a time | p50 ms | p90 ms | p99 ms | max ms | batch mean (last 100)"
                + " / sampled / max | CPU ms per job: worker / clients / process |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (Result r : results) {
            double baseline = results.stream().filter(o -> o.mode.batchJobs == 1 && o.mode.generates == r.mode.generates)
                    .mapToDouble(Result::jobsPerSecond).findFirst().orElse(Double.NaN);
            System.out.printf(Locale.ROOT, "| %s | %.1f | %.0f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f / %d | %.2f / "
                    + "%.2f / %.2f |%n", r.mode.name, r.jobsPerSecond(),
                    r.jobsPerSecond() * (r.mode.generates ? GENERATED_TOKENS : 1), r.jobsPerSecond() / baseline,
                    r.latencyMillis(0.5), r.latencyMillis(0.9), r.latencyMillis(0.99), r.latencyMillis(1.0),
                    r.batch.getAsJsonObject("mean").get("jobs").getAsDouble(), r.sampledLast,
                    r.batch.getAsJsonObject("max").get("jobs").getAsInt(),
                    r.cpuMillisPerJob(r.workerCpuNanos), r.cpuMillisPerJob(r.clientCpuNanos),
                    r.cpuMillisPerJob(r.processCpuNanos));
        }
    }

    /** The model's {@code "batch"} entry of the server's {@code /status}. */
    private static JsonObject batch(HttpClient http, URI status) throws Exception {
        String body = http.send(HttpRequest.newBuilder(status).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return JsonParser.parseString(body).getAsJsonObject().getAsJsonArray("models").get(0).getAsJsonObject()
                .getAsJsonObject("batch");
    }

    /** A platform thread's name and CPU time so far. */
    private record ThreadCpu(String name, long nanos) {}

    /** Each live platform thread's CPU time, by id. */
    private static Map<Long, ThreadCpu> cpu(ThreadMXBean threads) {
        Map<Long, ThreadCpu> times = new HashMap<>();
        for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null) {
                long time = threads.getThreadCpuTime(info.getThreadId());
                if (time >= 0) {
                    times.put(info.getThreadId(), new ThreadCpu(info.getThreadName(), time));
                }
            }
        }
        return times;
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            Thread.sleep(Math.max(1, left / 1_000_000));
        }
    }

    /** Short prompts by their token count (with BOS), as the model sees them. */
    private static Map<Long, List<String>> promptsByLength(LanguageModel lm) {
        Map<Long, List<String>> byLength = new TreeMap<>();
        for (String who : WHO) {
            for (String what : WHAT) {
                for (String prompt : List.of(who + " saw " + what + ".", who + " had " + what + " today.")) {
                    byLength.computeIfAbsent(tokens(lm, prompt), k -> new ArrayList<>()).add(prompt);
                }
            }
        }
        return byLength;
    }

    private static long tokens(LanguageModel lm, String prompt) {
        return lm.trace(prompt, tr -> lm.get("lm_head").output().size(1));
    }

    /** {@code count} prompts of the one length nearest {@value #TARGET_TOKENS} tokens that has that many. */
    private static List<String> equalLength(Map<Long, List<String>> byLength, int count) {
        return byLength.entrySet().stream().filter(entry -> entry.getValue().size() >= count)
                .min((a, b) -> Long.compare(Math.abs(a.getKey() - TARGET_TOKENS), Math.abs(b.getKey() - TARGET_TOKENS)))
                .orElseThrow(() -> new IllegalStateException("no " + count + " prompts of one length: " + byLength))
                .getValue().subList(0, count);
    }

    /** {@code count} prompts taken in turn from every length, so that neighbours differ in length. */
    private static List<String> mixedLength(Map<Long, List<String>> byLength, int count) {
        List<String> prompts = new ArrayList<>();
        List<List<String>> lengths = new ArrayList<>(byLength.values());
        for (int i = 0; prompts.size() < count; i++) {
            boolean any = false;
            for (List<String> list : lengths) {
                if (i < list.size() && prompts.size() < count) {
                    prompts.add(list.get(list.size() - 1 - i));
                    any = true;
                }
            }
            if (!any) {
                break;
            }
        }
        return prompts;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
