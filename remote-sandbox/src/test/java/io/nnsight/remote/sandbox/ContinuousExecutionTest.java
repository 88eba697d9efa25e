package io.nnsight.remote.sandbox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.TraceBody;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.nn.RMSNorm;
import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.Packing;
import io.nnsight.remote.internal.wire.ResultPayload;
import io.nnsight.remote.internal.wire.ValueGraphs;
import io.nnsight.remote.spi.BatchLimits;
import io.nnsight.remote.spi.BatchReport;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import io.nnsight.remote.spi.JobFeed;
import io.nnsight.remote.spi.JobOutcome;
import io.nnsight.spi.TraceBatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link SandboxedExecutor#executeContinuous} on stories260K with real shipped lambdas: generation jobs that join a
 * running continuous batch at later step boundaries get what {@link SandboxedExecutor#execute} gives each alone (the
 * same tokens; logits within 1e-4), each as soon as it leaves, its own printed lines once, a job that stops too; a
 * trace, a job whose code can use autograd, and every job of an epoch in which the weights changed run alone.
 */
class ContinuousExecutionTest {
    private static final double TOLERANCE = 1e-4;

    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    private static byte[] generation(Object prompts, int tokens, TraceBody<?> body) {
        return Packing.pack("GENERATE", lm, new Object[] {prompts, Generation.maxNewTokens(tokens), body, List.of(), Map.of()},
                ContinuousExecutionTest.class.getClassLoader()).write();
    }

    private static Object decode(byte[] payload) {
        Object[] root = (Object[]) ValueGraphs.read(ResultPayload.graph(payload),
                ContinuousExecutionTest.class.getClassLoader(), lm, LambdaFactory.DESERIALIZE_LAMBDA);
        return root[0];
    }

    /** A job the test feed hands over at take number {@code joinAt}, and what became of it. */
    private static final class Planned {
        final byte[] request;
        final int joinAt;
        final List<String> log = new CopyOnWriteArrayList<>();
        final JobFeed.Job job;
        JobOutcome outcome;
        int finishedAt = -1;
        /** How many jobs were answered before it. */
        int answeredAfter = -1;
        /** What was left of its time limit when the first job was answered, in nanoseconds, if it had a deadline. */
        long leftAtFirstAnswer = -1;

        Planned(byte[] request, int joinAt) {
            this.request = request;
            this.joinAt = joinAt;
            this.job = new JobFeed.Job(request, new JobContext("job", Duration.ofSeconds(60), log::add));
        }
    }

    /** Feeds {@code planned} to {@code executor}, each at its take, in epochs of the default length. */
    private static Fed feed(SandboxedExecutor executor, List<Planned> planned) {
        return feed(executor, planned, JobFeed.DEFAULT_EPOCH_STEPS);
    }

    /** Feeds {@code planned} to {@code executor}, each at its take, in epochs of {@code epochSteps} passes. */
    private static Fed feed(SandboxedExecutor executor, List<Planned> planned, int epochSteps) {
        return feed(executor, planned, epochSteps, BatchLimits.DEFAULT);
    }

    /**
     * What the feed was told.
     *
     * @param running how many jobs were running at each take
     * @param alone the sums of {@link JobFeed#runsAlone}'s counts: solo, evicted, reruns
     */
    private record Fed(List<Integer> running, List<Integer> alone) {}

    /**
     * Feeds {@code planned} to {@code executor}, each at its take, in epochs of {@code epochSteps} passes within {@code
     * limits}; records, for each job, how much of its time limit remained when the first job was answered.
     *
     * @return what the feed was told
     */
    private static Fed feed(SandboxedExecutor executor, List<Planned> planned, int epochSteps, BatchLimits limits) {
        Map<JobFeed.Job, Planned> byJob = new IdentityHashMap<>();
        for (Planned plan : planned) {
            byJob.put(plan.job, plan);
        }
        int[] takes = {0};
        List<Integer> runningAtTakes = new ArrayList<>();
        int[] alone = new int[3];
        executor.executeContinuous(lm, new JobFeed() {
            @Override
            public List<JobFeed.Job> take(int running) {
                runningAtTakes.add(running);
                List<JobFeed.Job> now = new ArrayList<>();
                for (Planned plan : planned) {
                    if (plan.joinAt == takes[0]) {
                        now.add(plan.job);
                    }
                }
                takes[0]++;
                return now;
            }

            @Override
            public void finished(JobFeed.Job job, JobOutcome outcome) {
                Planned plan = byJob.get(job);
                assertTrue(plan.outcome == null, "one outcome per job");
                if (planned.stream().allMatch(each -> each.outcome == null)) {
                    long now = System.nanoTime();
                    for (Planned each : planned) {
                        each.job.context().progress().end().ifPresent(end -> each.leftAtFirstAnswer = end - now);
                    }
                }
                plan.answeredAfter = (int) planned.stream().filter(each -> each.outcome != null).count();
                plan.outcome = outcome;
                plan.finishedAt = takes[0];
            }

            @Override
            public int epochSteps() {
                return epochSteps;
            }

            @Override
            public BatchLimits limits() {
                return limits;
            }

            @Override
            public void runsAlone(int solo, int evicted, int reruns) {
                alone[0] += solo;
                alone[1] += evicted;
                alone[2] += reruns;
            }
        });
        for (Planned plan : planned) {
            assertNotNull(plan.outcome, "every job has its outcome");
        }
        return new Fed(runningAtTakes, List.of(alone[0], alone[1], alone[2]));
    }

    private static Object alone(byte[] request) throws JobFailedException {
        return decode(new SandboxedExecutor().execute(lm, request, new JobContext("alone", Duration.ofSeconds(60),
                line -> { })));
    }

    @SuppressWarnings("unchecked")
    private static void assertSameGeneration(Object expected, Object actual) {
        List<Object> solo = (List<Object>) expected;
        List<Object> batched = (List<Object>) actual;
        assertTrue(torch.equal((Tensor) solo.get(0), (Tensor) batched.get(0)), "the tokens of the run alone");
        List<Tensor> soloSteps = (List<Tensor>) solo.get(1);
        List<Tensor> batchedSteps = (List<Tensor>) batched.get(1);
        assertEquals(soloSteps.size(), batchedSteps.size(), "steps");
        for (int i = 0; i < soloSteps.size(); i++) {
            assertArrayEquals(soloSteps.get(i).sizes().vec().get(), batchedSteps.get(i).sizes().vec().get());
            assertTrue(torch.allclose(soloSteps.get(i), batchedSteps.get(i), 0, TOLERANCE, false), "step " + i);
        }
    }

    /** The generated ids and each step's last logits; prints one line per step, named by {@code name}. */
    private static TraceBody<List<Object>> tokensAndLogits(String name) {
        return tr -> {
            List<Tensor> steps = new ArrayList<>();
            for (int step : tr.all()) {
                Tensor logits = lm.get("lm_head").output();
                steps.add(logits.select(1, -1));
                System.out.println(name + " step " + step);
            }
            return List.of(lm.generator().output(), steps);
        };
    }

    private static TraceBody<List<Object>> steered(double scale) {
        return tr -> {
            List<Tensor> steps = new ArrayList<>();
            for (int step : tr.all()) {
                lm.get("model.layers.2.mlp").output().mul_(new Scalar(scale));
                steps.add(lm.get("lm_head").output().select(1, -1));
            }
            return List.of(lm.generator().output(), steps);
        };
    }

    @Test
    void executeContinuous_generationsJoiningARunningBatch_getWhatExecuteGives_eachAsSoonAsItLeaves()
            throws JobFailedException {
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 12, tokensAndLogits("a")), 0),
                new Planned(generation("Once upon a time", 3, tokensAndLogits("b")), 0),
                new Planned(generation("The cat sat", 6, steered(3.0)), 4),
                new Planned(generation("Tom had a big red ball", 5, tokensAndLogits("d")), 4),
                new Planned(generation("Lily and Tom", 2, steered(0.0)), 7));
        SandboxedExecutor executor = new SandboxedExecutor();

        Fed fed = feed(executor, planned);

        assertEquals(new SandboxedExecutor.EpochCounts(5, 0), executor.lastEpoch, "all five joined one batch");
        assertEquals(List.of(0, 0, 0), fed.alone(), "none ran alone");
        for (Planned plan : planned) {
            assertSameGeneration(alone(plan.request), decode(plan.outcome.get()));
        }
        assertTrue(planned.get(1).finishedAt < planned.get(0).finishedAt, "the short one was answered first");
        assertTrue(planned.get(4).finishedAt < planned.get(0).finishedAt, "a late short one too");
        List<String> lines = new ArrayList<>();
        for (int step = 0; step < 12; step++) {
            lines.add("a step " + step);
        }
        assertEquals(lines, planned.get(0).log, "its own lines, once");
        assertEquals(List.of("b step 0", "b step 1", "b step 2"), planned.get(1).log);
        assertEquals(List.of(), planned.get(2).log);
    }

    @Test
    void executeContinuous_anEpochOfOnePass_takesALaterJobInTheNextEpoch() throws JobFailedException {
        List<Planned> planned = List.of(
                new Planned(generation("Once upon a time", 6, tokensAndLogits("a")), 0),
                new Planned(generation("The cat sat", 3, tokensAndLogits("b")), 1));
        SandboxedExecutor executor = new SandboxedExecutor();

        feed(executor, planned, 1);

        assertEquals(1, planned.get(0).finishedAt, "the first epoch took no job after its one pass");
        assertEquals(2, planned.get(1).finishedAt, "the second job ran in the next epoch");
        assertEquals(new SandboxedExecutor.EpochCounts(1, 0), executor.lastEpoch, "the last epoch held one job");
        for (Planned plan : planned) {
            assertSameGeneration(alone(plan.request), decode(plan.outcome.get()));
        }
    }

    @Test
    void executeContinuous_aStopEndsWithinTheBatch_aTraceRunsAlone_andAThrowingBodyFailsWithExecutesMessage()
            throws JobFailedException {
        TraceBody<Tensor> stopping = tr -> {
            System.out.println("stopping");
            Tensor hidden = lm.get("model.layers.1").output().clone();
            tr.stop();
            return hidden;
        };
        TraceBody<Tensor> throwing = tr -> {
            for (int step : tr.all()) {
                if (step == 2) {
                    throw new IllegalStateException("no steering at step " + step);
                }
            }
            return null;
        };
        byte[] trace = Packing.pack("TRACE", lm, new Object[] {"Once upon a time", null,
                (TraceBody<Tensor>) tr -> lm.get("lm_head").output().select(1, -1), List.of(), Map.of()},
                ContinuousExecutionTest.class.getClassLoader()).write();
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 8, tokensAndLogits("a")), 0),
                new Planned(generation("Once upon a time", 6, stopping), 1),
                new Planned(trace, 1),
                new Planned(generation("The cat sat", 6, throwing), 2));
        SandboxedExecutor executor = new SandboxedExecutor();
        JobFailedException solo = assertThrows(JobFailedException.class, () -> executor.execute(lm,
                planned.get(3).request, new JobContext("alone", Duration.ofSeconds(60), line -> { })));

        Fed fed = feed(executor, planned);

        assertEquals(new SandboxedExecutor.EpochCounts(3, 0), executor.lastEpoch, "the stopping job ended in the batch");
        assertEquals(List.of(1, 0, 0), fed.alone(), "the trace ran alone, without joining");
        assertSameGeneration(alone(planned.get(0).request), decode(planned.get(0).outcome.get()));
        Tensor stopped = (Tensor) decode(planned.get(1).outcome.get());
        assertTrue(torch.allclose((Tensor) alone(planned.get(1).request), stopped, 0, TOLERANCE, false));
        assertEquals(List.of("stopping"), planned.get(1).log, "printed once, by the one run");
        Tensor logits = (Tensor) decode(planned.get(2).outcome.get());
        assertTrue(torch.allclose((Tensor) alone(planned.get(2).request), logits, 0, TOLERANCE, false));
        assertEquals(solo.getMessage(), planned.get(3).outcome.failure().getMessage());
        assertTrue(solo.getMessage().contains("no steering at step 2"), solo.getMessage());
    }

    @Test
    void executeContinuous_aGenerationWhoseCodeCanUseAutograd_runsAlone_withAutogradOn() throws JobFailedException {
        TraceBody<List<Object>> asking = tr -> {
            List<Object> recorded = new ArrayList<>();
            for (int step : tr.all()) {
                recorded.add(lm.get("model.layers.1").output().requires_grad());
            }
            return recorded;
        };
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 6, tokensAndLogits("a")), 0),
                new Planned(generation("Once upon a time", 3, asking), 1),
                new Planned(generation("The cat sat", 4, steered(2.0)), 1));
        SandboxedExecutor executor = new SandboxedExecutor();

        Fed fed = feed(executor, planned);

        assertEquals(new SandboxedExecutor.EpochCounts(2, 0), executor.lastEpoch, "the asking job did not join");
        assertEquals(List.of(1, 0, 0), fed.alone(), "it ran alone, without joining");
        assertEquals(List.of(true, true, true), decode(planned.get(1).outcome.get()), "autograd on, as locally");
        assertSameGeneration(alone(planned.get(0).request), decode(planned.get(0).outcome.get()));
        assertSameGeneration(alone(planned.get(2).request), decode(planned.get(2).outcome.get()));
    }

    @Test
    void executeContinuous_aGenerationThatReadsTheCache_isEvicted_andRunsAgainAlone_countedSo()
            throws JobFailedException {
        TraceBody<Object> readingTheCache = tr -> {
            int steps = 0;
            for (int step : tr.all()) {
                lm.get("model").inputs();
                steps++;
            }
            return steps;
        };
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 6, tokensAndLogits("a")), 0),
                new Planned(generation("Once upon a time", 4, readingTheCache), 1));
        SandboxedExecutor executor = new SandboxedExecutor();

        Fed fed = feed(executor, planned);

        assertEquals(List.of(0, 1, 1), fed.alone(), "evicted, it ran again alone");
        assertEquals(4, decode(planned.get(1).outcome.get()), "alone, it read the cache at each of its steps");
        assertSameGeneration(alone(planned.get(0).request), decode(planned.get(0).outcome.get()));
    }

    @Test
    void executeContinuous_aJobThatChangesWeights_leadsToSoloRuns_andCorrectResultsForAll() throws JobFailedException {
        TraceBody<List<Object>> mutating = tr -> {
            ((RMSNorm) lm.get("model.norm").module()).weight().detach().mul_(new Scalar(2.0));
            List<Tensor> steps = new ArrayList<>();
            for (int step : tr.all()) {
                steps.add(lm.get("lm_head").output().select(1, -1));
            }
            return List.of(lm.generator().output(), steps);
        };
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 8, tokensAndLogits("a")), 0),
                new Planned(generation("Once upon a time", 3, mutating), 1),
                new Planned(generation("The cat sat", 6, tokensAndLogits("c")), 2));
        SandboxedExecutor executor = new SandboxedExecutor();
        Object clean = alone(planned.get(0).request);

        Fed fed = feed(executor, planned);

        assertEquals(3, executor.lastEpoch.members());
        assertEquals(3, executor.lastEpoch.rerun(), "every job running once the change was found ran again alone");
        assertEquals(List.of(0, 0, 3), fed.alone(), "three ran again alone, none of them evicted");
        assertSameGeneration(clean, decode(planned.get(0).outcome.get()));
        assertSameGeneration(alone(planned.get(2).request), decode(planned.get(2).outcome.get()));
        assertTrue(planned.get(1).log.get(planned.get(1).log.size() - 1).contains("changed the model's weights"),
                planned.get(1).log.toString());
        assertFalse(planned.get(0).log.stream().anyMatch(line -> line.contains("weights")));
        assertSameGeneration(clean, alone(planned.get(0).request));
    }

    @Test
    void executeContinuous_jobsBeyondTheRowsLimit_waitWithTheirClocksStopped_andJoinAsOthersLeave()
            throws JobFailedException {
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 10, tokensAndLogits("a")), 0),
                new Planned(generation("Once upon a time", 3, tokensAndLogits("b")), 0),
                new Planned(generation("The cat sat", 4, steered(3.0)), 0),
                new Planned(generation("Tom had a big red ball", 3, tokensAndLogits("d")), 1));
        SandboxedExecutor executor = new SandboxedExecutor();

        List<Integer> running = feed(executor, planned, JobFeed.DEFAULT_EPOCH_STEPS, new BatchLimits(2, 4096)).running();

        assertEquals(2, running.stream().mapToInt(Integer::intValue).max().orElseThrow(),
                "at most two rows ran, and the feed was asked for no job while one waited: " + running);
        assertEquals(new SandboxedExecutor.EpochCounts(4, 0), executor.lastEpoch, "all four joined, in turn");
        assertTrue(planned.get(1).answeredAfter < planned.get(2).answeredAfter, "the third joined once the second left");
        long limit = Duration.ofSeconds(60).toNanos();
        assertTrue(planned.get(2).leftAtFirstAnswer > limit - Duration.ofMillis(1).toNanos(),
                "the waiting job's clock had not started: " + planned.get(2).leftAtFirstAnswer + " ns left");
        assertTrue(planned.get(0).leftAtFirstAnswer < planned.get(2).leftAtFirstAnswer, "the running job's had");
        assertEquals(List.of("b step 0", "b step 1", "b step 2"), planned.get(1).log);
        for (Planned plan : planned) {
            assertSameGeneration(alone(plan.request), decode(plan.outcome.get()));
        }
    }

    @Test
    void executeContinuous_aJobWaitingForRoomWhenItsEpochEnds_joinsTheNextEpoch() throws JobFailedException {
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 4, tokensAndLogits("a")), 0),
                new Planned(generation("The cat sat", 3, tokensAndLogits("b")), 0));
        SandboxedExecutor executor = new SandboxedExecutor();

        feed(executor, planned, 1, new BatchLimits(1, 4096));

        assertEquals(new SandboxedExecutor.EpochCounts(1, 0), executor.lastEpoch, "the second epoch ran the job");
        assertEquals(List.of(0, 1), planned.stream().map(plan -> plan.answeredAfter).toList());
        assertEquals(List.of("b step 0", "b step 1", "b step 2"), planned.get(1).log, "prepared twice, run once");
        for (Planned plan : planned) {
            assertSameGeneration(alone(plan.request), decode(plan.outcome.get()));
        }
    }

    @Test
    void executeContinuous_aJobOverTheRowsLimitOnItsOwn_joinsOnceNoneRuns_andTheJobsAfterItWait()
            throws JobFailedException {
        List<Planned> planned = List.of(
                new Planned(generation(Shared.STORIES_PROMPT, 4, tokensAndLogits("a")), 0),
                new Planned(generation(List.of("Once upon a time", "The cat sat", "Lily and Tom"), 3,
                        tokensAndLogits("b")), 0),
                new Planned(generation("Tom had a big red ball", 3, tokensAndLogits("c")), 0));
        SandboxedExecutor executor = new SandboxedExecutor();

        feed(executor, planned, JobFeed.DEFAULT_EPOCH_STEPS, new BatchLimits(2, 4096));

        assertEquals(List.of(0, 1, 2), planned.stream().map(plan -> plan.answeredAfter).toList(),
                "the three prompts joined once none ran, and the job after them waited, though it fitted beside the "
                + "first and is shorter");
        for (Planned plan : planned) {
            assertSameGeneration(alone(plan.request), decode(plan.outcome.get()));
        }
    }

    @Test
    void executeContinuous_promptsBeyondTheTokensLimitTogether_joinAtSuccessiveBoundaries() throws JobFailedException {
        String first = Shared.STORIES_PROMPT;
        String second = "Once upon a time, there was a big dog.";
        long tokens = TraceBatch.prepare(lm, first).shape().tokens() + TraceBatch.prepare(lm, second).shape().tokens();
        List<Planned> together = List.of(
                new Planned(generation(first, 3, tokensAndLogits("a")), 0),
                new Planned(generation(second, 3, tokensAndLogits("b")), 0));
        List<Planned> split = List.of(
                new Planned(generation(first, 3, tokensAndLogits("a")), 0),
                new Planned(generation(second, 3, tokensAndLogits("b")), 0));

        feed(new SandboxedExecutor(), together, JobFeed.DEFAULT_EPOCH_STEPS, new BatchLimits(16, tokens));
        feed(new SandboxedExecutor(), split, JobFeed.DEFAULT_EPOCH_STEPS, new BatchLimits(16, tokens - 1));

        assertEquals(together.get(0).finishedAt, together.get(1).finishedAt, "both prompts ran in one step");
        assertTrue(split.get(0).finishedAt < split.get(1).finishedAt, "the second prompt ran a step later");
        for (Planned plan : split) {
            assertSameGeneration(alone(plan.request), decode(plan.outcome.get()));
        }
    }

    @Test
    void executeBatch_generations_shareTheirContinuousBatchWithinTheCallsLimits() throws JobFailedException {
        List<byte[]> requests = List.of(generation(Shared.STORIES_PROMPT, 6, tokensAndLogits("a")),
                generation("Once upon a time", 4, tokensAndLogits("b")),
                generation("The cat sat", 3, tokensAndLogits("c")));
        List<JobContext> contexts = requests.stream()
                .map(request -> new JobContext("job", Duration.ofSeconds(60), line -> { })).toList();

        BatchReport report = new SandboxedExecutor().executeBatch(lm, requests, contexts, new BatchLimits(2, 4096));

        assertEquals(List.of(new BatchReport.Forward(3, 2, 2)), report.forwards(), "two ran at once, not three");
        for (int i = 0; i < requests.size(); i++) {
            assertSameGeneration(alone(requests.get(i)), decode(report.outcomes().get(i).get()));
        }
    }
}
