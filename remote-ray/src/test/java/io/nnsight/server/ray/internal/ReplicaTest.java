package io.nnsight.server.ray.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.TraceBody;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.Packing;
import io.nnsight.remote.internal.wire.ResultPayload;
import io.nnsight.remote.internal.wire.ValueGraphs;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A {@link Replica} on stories260K, called with the bytes the front end sends through Ray ({@link ReplicaCall}) and
 * answering the bytes that come back ({@link ReplicaAnswer}), without Ray (which {@code RayServeTest} runs): several
 * jobs share a forward pass and each gets what it gets alone (logits within 1e-4, as a batched float32 matrix product
 * may sum in another order), several generations run as one continuous batch, each with the tokens it has alone, a
 * job's failure and printed lines stay its own, one job runs alone, and bytes that are not a call are answered, not
 * thrown. Its {@link ModelThread}: a generation that joins by a call of its own runs beside those running and is
 * answered when it leaves, and a call's batch waits for the running generations, not for those that came after it.
 */
class ReplicaTest {
    private static final double TOLERANCE = 1e-4;
    private static final Duration LIMIT = Duration.ofSeconds(60);

    /** The threads that make the calls Ray's threads would make: each waits in a call of the model thread's. */
    private static final ExecutorService CALLERS = Executors.newCachedThreadPool(call -> {
        Thread thread = new Thread(call, "replica-test-call");
        thread.setDaemon(true);
        return thread;
    });

    private static LanguageModel lm;
    private static Replica replica;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        replica = new Replica(Shared.path("models/stories260K").toString(), "", "", "cpu");
    }

    /** A job's request payload, as a client ships it. */
    private static byte[] trace(TraceBody<?> body) {
        return Packing.pack("TRACE", lm, new Object[] {Shared.STORIES_PROMPT, null, body, List.of(), Map.of()},
                ReplicaTest.class.getClassLoader()).write();
    }

    /** A greedy generation's request of {@code tokens} new tokens after {@code prompt}, answering the tokens. */
    private static byte[] generate(String prompt, int tokens) {
        TraceBody<Tensor> generated = tr -> lm.generator().output();
        return Packing.pack("GENERATE", lm, new Object[] {prompt, Generation.maxNewTokens(tokens), generated, List.of(), Map.of()},
                ReplicaTest.class.getClassLoader()).write();
    }

    private static Object decode(byte[] payload) {
        return ((Object[]) ValueGraphs.read(ResultPayload.graph(payload), ReplicaTest.class.getClassLoader(), lm,
                LambdaFactory.DESERIALIZE_LAMBDA))[0];
    }

    /** What the front end sends for {@code requests}, each with its id and the time limit. */
    private static byte[] call(List<byte[]> requests) {
        List<JobContext> contexts = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            contexts.add(new JobContext("job" + i, LIMIT, line -> {}));
        }
        return ReplicaCall.of(requests, contexts, BatchLimits.DEFAULT).write();
    }

    /** What {@code execute} gives the request alone, on the test's own model. */
    private static Object alone(byte[] request) throws JobFailedException {
        return decode(new SandboxedExecutor().execute(lm, request, new JobContext("alone", LIMIT, line -> {})));
    }

    private static TraceBody<Tensor> lastLogits() {
        return tr -> lm.get("lm_head").output().select(1, -1);
    }

    private static TraceBody<Tensor> ablatedLogits(int layer) {
        return tr -> {
            lm.get("model.layers." + layer + ".mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1);
        };
    }

    private static TraceBody<Long> steeredArgmax(double scale) {
        return tr -> {
            lm.get("model.layers.2").output().mul_(new Scalar(scale));
            return lm.get("lm_head").output().select(1, -1).argmax().item_long();
        };
    }

    @Test
    void apply_ofSeveralTraces_runsThemInOneForwardPass_andEachGetsWhatItGetsAlone() throws JobFailedException {
        List<byte[]> requests = List.of(trace(lastLogits()), trace(ablatedLogits(4)), trace(steeredArgmax(3.0)));

        BatchReport report = ReplicaAnswer.read(replica.apply(call(requests))).report();

        assertEquals(List.of(new BatchReport.Forward(3, 3, 3L * lm.tokenizer().encode(Shared.STORIES_PROMPT).length)),
                report.forwards(), "the three shared one forward pass of their three rows");
        assertEquals(0, report.solo());
        for (int i = 0; i < 2; i++) {
            Tensor expected = (Tensor) alone(requests.get(i));
            Tensor actual = (Tensor) decode(report.outcomes().get(i).get());
            assertTrue(torch.allclose(expected, actual, 0, TOLERANCE, false), "job " + i + " as alone");
        }
        assertEquals(alone(requests.get(2)), decode(report.outcomes().get(2).get()));
        assertFalse(torch.allclose((Tensor) decode(report.outcomes().get(0).get()),
                (Tensor) decode(report.outcomes().get(1).get()), 0, 1e-3, false), "the ablation reached its own row only");
    }

    @Test
    void apply_memberThatPrintsAndThrows_failsAlone_andEachJobsLinesComeBackWithIt() throws JobFailedException {
        TraceBody<Tensor> throwing = tr -> {
            System.out.println("looking for a steering vector");
            throw new IllegalStateException("no steering vector for layer " + lm.get("model.layers.1").output().dim());
        };
        TraceBody<Long> printing = tr -> {
            long token = lm.get("lm_head").output().select(1, -1).argmax().item_long();
            System.out.println("top token " + token);
            return token;
        };
        List<byte[]> requests = List.of(trace(throwing), trace(printing));
        JobFailedException solo = assertThrows(JobFailedException.class,
                () -> new SandboxedExecutor().execute(lm, requests.get(0), new JobContext("alone", LIMIT, line -> {})));

        ReplicaAnswer answer = ReplicaAnswer.read(replica.apply(call(requests)));

        Outcome failed = answer.outcomes().get(0);
        assertNull(failed.result());
        assertEquals(solo.getMessage(), failed.failure());
        assertTrue(failed.failure().contains("no steering vector for layer 3"), failed.failure());
        assertFalse(failed.modelUnusable());
        assertEquals(List.of("looking for a steering vector"), failed.log());
        Outcome succeeded = answer.outcomes().get(1);
        long token = (Long) decode(succeeded.result());
        assertEquals(alone(requests.get(1)), token);
        assertEquals(List.of("top token " + token), succeeded.log());
        assertEquals(solo.getMessage(), assertThrows(JobFailedException.class,
                () -> answer.report().outcomes().get(0).get()).getMessage(), "the front end fails it with the message");
    }

    @Test
    void apply_ofGenerationsAndATrace_runsTheGenerationsAsOneContinuousBatch_eachGettingItsOwnTokens()
            throws JobFailedException {
        List<byte[]> requests = List.of(generate("Once upon a time", 6), trace(lastLogits()),
                generate("Tom saw a ball. He", 3), generate(Shared.STORIES_PROMPT, 8));

        BatchReport report = ReplicaAnswer.read(replica.apply(call(requests))).report();

        assertEquals(List.of(new BatchReport.Forward(3, 3, 3)), report.forwards(),
                "the three generations ran together, one row and one new token each per step");
        assertEquals(1, report.solo(), "the trace, alone");
        for (int i : List.of(0, 2, 3)) {
            assertTrue(torch.equal((Tensor) alone(requests.get(i)), (Tensor) decode(report.outcomes().get(i).get())),
                    "generation " + i + " has the tokens it has alone");
        }
        assertTrue(torch.equal((Tensor) alone(requests.get(1)), (Tensor) decode(report.outcomes().get(1).get())));
    }

    @Test
    void apply_ofOneGenerationAmongTraces_runsItAlone_andTheTracesShareAPass() throws JobFailedException {
        List<byte[]> requests = List.of(trace(lastLogits()), generate("Once upon a time", 4), trace(ablatedLogits(2)));

        BatchReport report = ReplicaAnswer.read(replica.apply(call(requests))).report();

        assertEquals(List.of(2), report.forwards().stream().map(BatchReport.Forward::jobs).toList());
        assertEquals(1, report.solo());
        assertTrue(torch.equal((Tensor) alone(requests.get(1)), (Tensor) decode(report.outcomes().get(1).get())));
    }

    @Test
    void apply_ofAJoiningCall_answersTheGenerationWithTheTokensItHasAlone() throws JobFailedException {
        byte[] request = generate("Once upon a time", 5);

        ReplicaAnswer answer = ReplicaAnswer.read(replica.apply(ReplicaCall.joining(request,
                new JobContext("joins", LIMIT, line -> {}), 16, BatchLimits.DEFAULT).write()));

        assertEquals(1, answer.solo(), "nothing ran beside it");
        assertTrue(torch.equal((Tensor) alone(request), (Tensor) decode(answer.outcomes().get(0).result())));
    }

    /**
     * A {@link ModelThread} whose continuous batches run on the test's model, and that tells {@code events} of each
     * generation a batch takes and of each that leaves ({@code "taken id"}, {@code "left id"}).
     */
    private static ModelThread modelThread(Consumer<String> events) {
        SandboxedExecutor executor = new SandboxedExecutor();
        return new ModelThread(feed -> executor.executeContinuous(lm, new JobFeed() {
            @Override
            public List<JobFeed.Job> take(int running) {
                List<JobFeed.Job> jobs = feed.take(running);
                jobs.forEach(job -> events.accept("taken " + job.context().id()));
                return jobs;
            }

            @Override
            public void finished(JobFeed.Job job, JobOutcome outcome) {
                events.accept("left " + job.context().id());
                feed.finished(job, outcome);
            }

            @Override
            public int epochSteps() {
                return feed.epochSteps();
            }

            @Override
            public BatchLimits limits() {
                return feed.limits();
            }

            @Override
            public void stepped(BatchReport.Forward step) {
                feed.stepped(step);
            }

            @Override
            public void runsAlone(int solo, int evicted, int reruns) {
                feed.runsAlone(solo, evicted, reruns);
            }
        }));
    }

    /** Joins {@code request} to the thread's continuous batch, as the generation's own call does, on another thread. */
    private static CompletableFuture<ReplicaAnswer> join(ModelThread thread, String id, byte[] request) {
        return join(thread, id, request, BatchLimits.DEFAULT);
    }

    /** Joins {@code request} as {@link #join(ModelThread, String, byte[])} does, with a call of {@code limits}. */
    private static CompletableFuture<ReplicaAnswer> join(ModelThread thread, String id, byte[] request,
            BatchLimits limits) {
        ReplicaCall call = ReplicaCall.joining(request, new JobContext(id, LIMIT, line -> {}), 256, limits);
        return CompletableFuture.supplyAsync(() -> {
            try {
                return ReplicaAnswer.read(thread.join(call));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, CALLERS);
    }

    @Test
    void join_whileAGenerationRuns_joinsItsBatch_andIsAnsweredWhenItLeaves() throws Exception {
        CountDownLatch longOneRuns = new CountDownLatch(1);
        ModelThread thread = modelThread(event -> longOneRuns.countDown());
        byte[] longer = generate("Once upon a time", 40);
        byte[] shorter = generate("Tom saw a ball. He", 3);
        CompletableFuture<ReplicaAnswer> longOne = join(thread, "long", longer);
        assertTrue(longOneRuns.await(60, TimeUnit.SECONDS));

        ReplicaAnswer shortOne = join(thread, "short", shorter).get(60, TimeUnit.SECONDS);

        assertFalse(longOne.isDone(), "the short generation was answered when it left, while the long one ran on");
        assertEquals(List.of(new BatchReport.Forward(1, 2, 2)), shortOne.forwards(), "it ran beside the long one");
        assertTrue(shortOne.continued().steps().contains(new BatchReport.Forward(2, 2, 2)),
                "its answer tells the steps since the last one, one token per row: " + shortOne.continued());
        assertTrue(torch.equal((Tensor) alone(shorter), (Tensor) decode(shortOne.outcomes().get(0).result())));
        ReplicaAnswer longAnswer = longOne.get(60, TimeUnit.SECONDS);
        assertEquals(List.of(new BatchReport.Forward(1, 2, 2)), longAnswer.forwards());
        assertTrue(torch.equal((Tensor) alone(longer), (Tensor) decode(longAnswer.outcomes().get(0).result())));
    }

    @Test
    void run_whileGenerationsRun_waitsForThemToLeave_andGenerationsCalledMeanwhileRunAfterIt() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch firstRuns = new CountDownLatch(1);
        ModelThread thread = modelThread(event -> {
            events.add(event);
            firstRuns.countDown();
        });
        CompletableFuture<ReplicaAnswer> first = join(thread, "first", generate("Once upon a time", 20));
        assertTrue(firstRuns.await(60, TimeUnit.SECONDS));
        CompletableFuture<byte[]> batch = CompletableFuture.supplyAsync(() -> {
            try {
                return thread.run(List.of("batch"), () -> {
                    events.add("batch runs");
                    return new byte[0];
                });
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, CALLERS);
        waitUntilParked("the batch's call");
        CompletableFuture<ReplicaAnswer> later = join(thread, "later", generate("Tom saw a ball. He", 3));

        batch.get(60, TimeUnit.SECONDS);
        ReplicaAnswer laterAnswer = later.get(60, TimeUnit.SECONDS);

        assertEquals(List.of("taken first", "left first", "batch runs", "taken later", "left later"), events);
        assertEquals(1, laterAnswer.solo(), "it did not join the first one's batch");
        assertEquals(1, first.get().solo());
    }

    @Test
    void runningFor_aCallWaitingBehindAGeneration_isWaiting_aRunningOne_hasRun_andAnAnsweredOne_isUnknown()
            throws Exception {
        CountDownLatch firstRuns = new CountDownLatch(1);
        ModelThread thread = modelThread(event -> firstRuns.countDown());
        CompletableFuture<ReplicaAnswer> first = join(thread, "first", generate("Once upon a time", 20));
        assertTrue(firstRuns.await(60, TimeUnit.SECONDS));
        CountDownLatch batchRuns = new CountDownLatch(1);
        CountDownLatch batchMayEnd = new CountDownLatch(1);
        CompletableFuture<byte[]> batch = CompletableFuture.supplyAsync(() -> {
            try {
                return thread.run(List.of("trace 1", "trace 2"), () -> {
                    batchRuns.countDown();
                    try {
                        batchMayEnd.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return new byte[0];
                });
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, CALLERS);
        waitUntilParked("the batch's call");

        long waiting = thread.runningFor("trace 2");
        long generating = thread.runningFor("first");
        assertTrue(batchRuns.await(60, TimeUnit.SECONDS), "the batch runs once the generation left");
        Thread.sleep(20);
        long running = thread.runningFor("trace 1");
        batchMayEnd.countDown();
        batch.get(60, TimeUnit.SECONDS);
        first.get(60, TimeUnit.SECONDS);

        assertEquals(ModelThread.WAITING, waiting, "a call waiting behind the generation has not started");
        assertTrue(generating >= 0, "the generation runs: " + generating);
        assertTrue(running >= TimeUnit.MILLISECONDS.toNanos(20), "the batch has run 20 ms at least: " + running);
        assertEquals(ModelThread.UNKNOWN, thread.runningFor("trace 1"), "an answered call is not known");
        assertEquals(ModelThread.UNKNOWN, thread.runningFor("first"));
        assertEquals(ModelThread.UNKNOWN, thread.runningFor("never called"));
    }

    @Test
    void runningFor_aGenerationWaitingForRoomInTheBatch_hasUsedNoneOfItsLimit_andJoinsWhenTheOtherLeaves()
            throws Exception {
        CountDownLatch firstTaken = new CountDownLatch(1);
        CountDownLatch secondTaken = new CountDownLatch(1);
        ModelThread thread = modelThread(event -> {
            if (event.equals("taken first")) {
                firstTaken.countDown();
            } else if (event.equals("taken second")) {
                secondTaken.countDown();
            }
        });
        BatchLimits oneRow = new BatchLimits(1, 4096);
        CompletableFuture<ReplicaAnswer> first = join(thread, "first", generate("Once upon a time", 200), oneRow);
        assertTrue(firstTaken.await(60, TimeUnit.SECONDS));
        byte[] second = generate("Tom saw a ball. He", 3);
        CompletableFuture<ReplicaAnswer> secondAnswer = join(thread, "second", second, oneRow);
        assertTrue(secondTaken.await(60, TimeUnit.SECONDS));

        Thread.sleep(60);
        long waited = thread.runningFor("second");
        long generating = thread.runningFor("first");
        boolean firstRan = first.isDone();
        ReplicaAnswer answer = secondAnswer.get(60, TimeUnit.SECONDS);

        assertFalse(firstRan, "the first generation still ran: " + generating + " ns");
        assertTrue(waited < TimeUnit.MILLISECONDS.toNanos(20), "the waiting one has used " + waited + " ns of its limit");
        assertTrue(generating >= TimeUnit.MILLISECONDS.toNanos(40), "the running one has used " + generating + " ns");
        assertTrue(first.get(60, TimeUnit.SECONDS).outcomes().get(0).result() != null);
        assertEquals(1, answer.solo(), "one row at a time: it ran after the first, not beside it");
        assertTrue(torch.equal((Tensor) alone(second), (Tensor) decode(answer.outcomes().get(0).result())));
    }

    /** Waits until a thread of the test's pools waits in a call of the model thread's. */
    private static void waitUntilParked(String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (Thread.getAllStackTraces().entrySet().stream().noneMatch(entry -> entry.getKey().getState()
                == Thread.State.WAITING && Arrays.stream(entry.getValue()).anyMatch(frame -> frame.getClassName()
                        .equals(ModelThread.class.getName()) && frame.getMethodName().equals("run")))) {
            assertTrue(System.nanoTime() < end, what + " did not come");
            Thread.sleep(1);
        }
    }

    @Test
    void apply_ofOneJob_runsItAloneAsExecuteDoes() throws JobFailedException {
        byte[] request = trace(lastLogits());

        BatchReport report = ReplicaAnswer.read(replica.apply(call(List.of(request)))).report();

        assertEquals(List.of(), report.forwards());
        assertEquals(1, report.solo());
        assertTrue(torch.equal((Tensor) alone(request), (Tensor) decode(report.outcomes().get(0).get())),
                "alone, bit for bit");
    }

    @Test
    void apply_ofBytesThatAreNotACall_answersWithoutThrowing() {
        ReplicaAnswer answer = ReplicaAnswer.read(replica.apply(new byte[] {0, 0, 0, 1, 7}));

        assertEquals(List.of(), answer.outcomes(), "no job could be read, so none is answered");
    }

    @Test
    void callAndAnswer_travelAsBytes_unchanged() {
        ReplicaCall call = new ReplicaCall(List.of(new ReplicaCall.Job(new byte[] {1, 2, 3}, "a", Duration.ofSeconds(5)),
                new ReplicaCall.Job(new byte[0], "b", Duration.ofMillis(1500))), 8, 1024, 0);
        ReplicaCall read = ReplicaCall.read(call.write());
        assertEquals(8, read.rows());
        assertEquals(1024, read.tokens());
        assertFalse(read.joins());
        assertEquals(Duration.ofMillis(6500), read.timeLimits());
        ReplicaCall joining = ReplicaCall.read(ReplicaCall.joining(new byte[] {4}, new JobContext("c", LIMIT, line -> {}),
                32, new BatchLimits(3, 96)).write());
        assertTrue(joining.joins());
        assertEquals(32, joining.epochSteps());
        assertEquals(new BatchLimits(3, 96), joining.limits(), "the continuous batch's limits travel with the call");
        assertArrayEquals(new byte[] {4}, joining.jobs().get(0).request());
        for (int i = 0; i < 2; i++) {
            assertEquals(call.jobs().get(i).id(), read.jobs().get(i).id());
            assertEquals(call.jobs().get(i).timeLimit(), read.jobs().get(i).timeLimit());
            assertArrayEquals(call.jobs().get(i).request(), read.jobs().get(i).request());
        }

        ReplicaAnswer answer = new ReplicaAnswer(List.of(Outcome.succeeded(new byte[] {9}, List.of("out")),
                Outcome.failed("weights lost", true, List.of())), List.of(new BatchReport.Forward(2, 3, 24)), 0, 1, 1,
                new ReplicaAnswer.Continued(List.of(new BatchReport.Forward(2, 2, 2), new BatchReport.Forward(1, 4, 36)),
                        1, 2, 3));
        ReplicaAnswer back = ReplicaAnswer.read(answer.write());
        assertArrayEquals(new byte[] {9}, back.outcomes().get(0).result());
        assertEquals(List.of("out"), back.outcomes().get(0).log());
        assertEquals("weights lost", back.outcomes().get(1).failure());
        assertTrue(back.outcomes().get(1).modelUnusable());
        assertEquals(answer.forwards(), back.forwards());
        assertEquals(List.of(0, 1, 1), List.of(back.solo(), back.evicted(), back.reruns()));
        assertEquals(answer.continued(), back.continued(), "what the continuous batch did travels back");
    }

    @Test
    void read_ofATruncatedAnswer_saysItIsMalformed() {
        byte[] whole = new ReplicaAnswer(List.of(Outcome.succeeded(new byte[100], List.of())), List.of(), 1, 0, 0).write();

        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> ReplicaAnswer.read(Arrays.copyOf(whole, 50)));

        assertTrue(thrown.getMessage().startsWith("a replica's answer is malformed"), thrown.getMessage());
    }
}
