package io.nnsight.remote.sandbox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
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
import io.nnsight.remote.spi.JobOutcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link SandboxedExecutor#executeBatch} on stories260K with real shipped lambdas: each job gets what {@link
 * SandboxedExecutor#execute} gives it alone (logits within 1e-4, since a batched float32 matrix product may sum
 * in another order; argmax exactly), its failure alone, its own printed lines once; a job that stops the trace
 * gets what it gets alone without running again; a job that is evicted or changes the weights, a job whose code can
 * use autograd, and a job of another kind, run alone.
 */
class BatchExecutionTest {
    private static final String PROMPT = Shared.STORIES_PROMPT;
    private static final double TOLERANCE = 1e-4;

    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    /** Shipped code whose body changes a static field that the client packs with the job. */
    static final class Tally {
        static int count = 41;

        private Tally() {}

        static TraceBody<Integer> bump() {
            return tr -> {
                lm.get("lm_head").output();
                return ++count;
            };
        }
    }

    /** A job's request payload, as a client ships it. */
    private static byte[] trace(TraceBody<?> body) {
        return trace(PROMPT, body);
    }

    private static byte[] trace(String prompt, TraceBody<?> body) {
        return Packing.pack("TRACE", lm, new Object[] {prompt, null, body, List.of(), Map.of()},
                BatchExecutionTest.class.getClassLoader()).write();
    }

    private static Object decode(byte[] payload) {
        Object[] root = (Object[]) ValueGraphs.read(ResultPayload.graph(payload), BatchExecutionTest.class.getClassLoader(),
                lm, LambdaFactory.DESERIALIZE_LAMBDA);
        return root[0];
    }

    /** A context whose log lines are collected into {@code lines}. */
    private static JobContext context(String id, List<String> lines) {
        return new JobContext(id, Duration.ofSeconds(60), lines::add);
    }

    private static List<JobContext> contexts(int count, List<List<String>> logs) {
        List<JobContext> contexts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            List<String> lines = new CopyOnWriteArrayList<>();
            logs.add(lines);
            contexts.add(context("job" + i, lines));
        }
        return contexts;
    }

    /** What each job gets from {@code execute} alone, with a fresh executor. */
    private static List<Object> alone(List<byte[]> requests) throws JobFailedException {
        SandboxedExecutor executor = new SandboxedExecutor();
        List<Object> results = new ArrayList<>();
        for (byte[] request : requests) {
            results.add(decode(executor.execute(lm, request, context("alone", new ArrayList<>()))));
        }
        return results;
    }

    private static void assertClose(Tensor expected, Tensor actual) {
        assertArrayEquals(expected.sizes().vec().get(), actual.sizes().vec().get(), "shape");
        assertTrue(torch.allclose(expected, actual, 0, TOLERANCE, false),
                "max difference " + expected.sub(actual).abs().max().item_double());
    }

    private static void assertSameResult(Object expected, Object actual) {
        if (expected instanceof Tensor tensor) {
            assertClose(tensor, (Tensor) actual);
            if (tensor.dim() > 0 && tensor.is_floating_point()) {
                assertEquals(tensor.argmax().item_long(), ((Tensor) actual).argmax().item_long(), "argmax");
            }
        } else if (expected instanceof List<?> list) {
            List<?> others = (List<?>) actual;
            assertEquals(list.size(), others.size());
            for (int i = 0; i < list.size(); i++) {
                assertSameResult(list.get(i), others.get(i));
            }
        } else {
            assertEquals(expected, actual);
        }
    }

    /** Checks that each job's outcome is the result {@code execute} gives it alone. */
    private static void assertEachGetsWhatItGetsAlone(List<byte[]> requests, List<JobOutcome> outcomes)
            throws JobFailedException {
        List<Object> expected = alone(requests);
        for (int i = 0; i < requests.size(); i++) {
            assertSameResult(expected.get(i), decode(outcomes.get(i).get()));
        }
    }

    /**
     * Checks how the jobs of {@code report} ran: the jobs of each shared forward pass, in order; how many ran alone
     * from the start, how many were evicted from their pass, how many ran again alone.
     */
    private static void assertRan(BatchReport report, List<Integer> jobsPerPass, int solo, int evicted, int reruns,
            String... why) {
        String what = String.join(" ", why) + " " + report.forwards() + " solo " + report.solo() + " evicted "
                + report.evicted() + " reruns " + report.reruns();
        assertEquals(jobsPerPass, report.forwards().stream().map(BatchReport.Forward::jobs).toList(), what);
        assertEquals(solo, report.solo(), what);
        assertEquals(evicted, report.evicted(), what);
        assertEquals(reruns, report.reruns(), what);
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

    private static TraceBody<List<Tensor>> layerOutputs() {
        return tr -> List.of(lm.get("model.layers.0").output(), lm.get("model.layers.3").output());
    }

    private static TraceBody<Long> steeredArgmax(double scale) {
        return tr -> {
            lm.get("model.layers.2").output().mul_(new Scalar(scale));
            return lm.get("lm_head").output().select(1, -1).argmax().item_long();
        };
    }

    @Test
    void executeBatch_ofPlainTraces_givesEachWhatExecuteGives() throws JobFailedException {
        List<byte[]> requests = List.of(trace(lastLogits()), trace(ablatedLogits(4)), trace(layerOutputs()),
                trace(steeredArgmax(3.0)), trace(ablatedLogits(1)));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(requests.size(), new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(5), 0, 0, 0, "all five shared one forward pass");
        assertEachGetsWhatItGetsAlone(requests, outcomes);
        assertFalse(torch.allclose((Tensor) decode(outcomes.get(0).get()), (Tensor) decode(outcomes.get(1).get()), 0,
                1e-3, false), "each member's intervention reached only its own rows");
    }

    @Test
    void executeBatch_sameCodeRoundAfterRound_eachJobStartsFromWhatItsClientPacked() throws JobFailedException {
        // each job's class loader goes back for the next job of the same code; none of them sees another's count
        SandboxedExecutor executor = new SandboxedExecutor();
        for (int round = 0; round < 3; round++) {
            List<byte[]> requests = List.of(trace(Tally.bump()), trace(Tally.bump()), trace(Tally.bump()));
            BatchReport report = executor.executeBatch(lm, requests, contexts(requests.size(), new ArrayList<>()),
                    BatchLimits.DEFAULT);
            assertRan(report, List.of(3), 0, 0, 0, "round " + round);
            for (JobOutcome outcome : report.outcomes()) {
                assertEquals(42, decode(outcome.get()), "round " + round);
            }
            assertEquals(42, decode(executor.execute(lm, trace(Tally.bump()), context("alone", new ArrayList<>()))));
        }
        assertEquals(41, Tally.count, "the test's own class is untouched");
    }

    @Test
    void executeBatch_memberWhoseBodyThrows_failsAlone_withExecutesMessage() throws JobFailedException {
        TraceBody<Tensor> throwing = tr -> {
            Tensor hidden = lm.get("model.layers.1").output();
            throw new IllegalStateException("no steering vector for a hidden state of " + hidden.size(-1));
        };
        List<byte[]> requests = List.of(trace(lastLogits()), trace(throwing), trace(ablatedLogits(2)));
        SandboxedExecutor executor = new SandboxedExecutor();
        JobFailedException solo = assertThrows(JobFailedException.class,
                () -> executor.execute(lm, requests.get(1), context("alone", new ArrayList<>())));

        BatchReport report = executor.executeBatch(lm, requests, contexts(3, new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(3), 0, 0, 0);
        assertNull(outcomes.get(1).result());
        assertEquals(solo.getMessage(), outcomes.get(1).failure().getMessage());
        assertTrue(solo.getMessage().contains("no steering vector for a hidden state of 64"), solo.getMessage());
        List<Object> expected = alone(List.of(requests.get(0), requests.get(2)));
        assertSameResult(expected.get(0), decode(outcomes.get(0).get()));
        assertSameResult(expected.get(1), decode(outcomes.get(2).get()));
    }

    @Test
    void executeBatch_memberThatStops_getsWhatExecuteGives_withoutEvictionOrRerun_printingItsLinesOnce()
            throws JobFailedException {
        TraceBody<Tensor> stopping = tr -> {
            System.out.println("reading layer 1");
            Tensor hidden = lm.get("model.layers.1").output().clone();
            tr.stop();
            System.out.println("stopped");
            return hidden;
        };
        TraceBody<Tensor> stoppingThenReading = tr -> {
            lm.get("model.layers.1").output();
            tr.stop();
            return lm.get("lm_head").output();
        };
        List<byte[]> requests = List.of(trace(lastLogits()), trace(stopping), trace(ablatedLogits(3)),
                trace(stoppingThenReading));
        SandboxedExecutor executor = new SandboxedExecutor();
        List<List<String>> logs = new ArrayList<>();
        JobFailedException solo = assertThrows(JobFailedException.class,
                () -> executor.execute(lm, requests.get(3), context("alone", new ArrayList<>())));

        BatchReport report = executor.executeBatch(lm, requests, contexts(4, logs), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(4), 0, 0, 0, "the stopping jobs ended within the shared pass");
        List<Object> expected = alone(requests.subList(0, 3));
        for (int i = 0; i < 3; i++) {
            assertSameResult(expected.get(i), decode(outcomes.get(i).get()));
        }
        assertTrue(solo.getMessage().contains("tr.stop() ended the run before that"), solo.getMessage());
        assertEquals(solo.getMessage(), outcomes.get(3).failure().getMessage());
        assertEquals(List.of("reading layer 1", "stopped"), logs.get(1), "printed once, by the one run");
        assertEquals(List.of(), logs.get(0));
        assertEquals(List.of(), logs.get(2));
    }

    @Test
    void executeBatch_ofMembersThatAllStop_givesEachWhatExecuteGives_withoutReruns() throws JobFailedException {
        List<byte[]> requests = List.of(trace(tr -> {
            Tensor hidden = lm.get("model.layers.2").output().clone();
            tr.stop();
            return hidden;
        }), trace(tr -> {
            tr.stop();
            return "stopped before the model ran";
        }));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(2, new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2), 0, 0, 0);
        assertEachGetsWhatItGetsAlone(requests, outcomes);
        assertEquals("stopped before the model ran", decode(outcomes.get(1).get()));
    }

    @Test
    void executeBatch_printedLines_goOnlyToTheirOwnJob() throws JobFailedException {
        List<byte[]> requests = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String name = "job " + i;
            requests.add(trace(tr -> {
                System.out.println(name + " starts");
                Tensor logits = lm.get("lm_head").output();
                System.err.println(name + " read logits of " + logits.size(-1));
                System.out.print(name + " ends without a line break");
                return logits.select(1, -1).argmax().item_long();
            }));
        }
        SandboxedExecutor executor = new SandboxedExecutor();
        List<List<String>> logs = new ArrayList<>();

        BatchReport report = executor.executeBatch(lm, requests, contexts(4, logs), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(4), 0, 0, 0);
        List<Object> expected = alone(requests);
        for (int i = 0; i < 4; i++) {
            assertEquals(expected.get(i), decode(outcomes.get(i).get()));
            assertEquals(List.of("job " + i + " starts", "job " + i + " read logits of 512",
                    "job " + i + " ends without a line break"), logs.get(i));
        }
    }

    @Test
    void executeBatch_memberThatChangesWeights_leadsToSoloReruns_andCorrectResultsForAll() throws JobFailedException {
        TraceBody<Tensor> mutating = tr -> {
            ((RMSNorm) lm.get("model.norm").module()).weight().detach().mul_(new Scalar(2.0));
            return lm.get("lm_head").output().select(1, -1);
        };
        List<byte[]> requests = List.of(trace(lastLogits()), trace(mutating), trace(ablatedLogits(4)));
        SandboxedExecutor executor = new SandboxedExecutor();
        List<List<String>> logs = new ArrayList<>();
        Tensor clean = (Tensor) decode(executor.execute(lm, requests.get(0), context("before", new ArrayList<>())));

        BatchReport report = executor.executeBatch(lm, requests, contexts(3, logs), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(3), 0, 0, 3, "every member ran again alone");
        assertEachGetsWhatItGetsAlone(requests, outcomes);
        assertSameResult(clean, decode(outcomes.get(0).get()));
        assertFalse(torch.allclose(clean, (Tensor) decode(outcomes.get(1).get()), 0, 1e-3, false),
                "the mutating job saw its own change");
        assertEquals(1, logs.get(1).size(), "only its solo run's note: " + logs.get(1));
        assertTrue(logs.get(1).get(0).contains("changed the model's weights"), logs.get(1).get(0));
        assertEquals(List.of(), logs.get(0));
        assertSameResult(clean, decode(executor.execute(lm, requests.get(0), context("after", new ArrayList<>()))));
    }

    @Test
    void executeBatch_generationAmongTraces_runsAlone_andTracesStillShareAForwardPass() throws JobFailedException {
        TraceBody<Tensor> tokens = tr -> lm.generator().output();
        byte[] generation = Packing.pack("GENERATE", lm,
                new Object[] {PROMPT, Generation.maxNewTokens(4).greedy(), tokens, List.of(), Map.of()},
                BatchExecutionTest.class.getClassLoader()).write();
        List<byte[]> requests = List.of(trace(lastLogits()), generation, trace(ablatedLogits(4)));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(3, new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2), 1, 0, 0, "the two traces only");
        List<Object> expected = alone(requests);
        for (int i = 0; i < requests.size(); i++) {
            assertSameResult(expected.get(i), decode(outcomes.get(i).get()));
        }
        assertTrue(((Tensor) expected.get(1)).equal((Tensor) decode(outcomes.get(1).get())), "the same tokens");
    }

    @Test
    void executeBatch_memberWithAliasesTheModelLacks_runsAloneByThem_andTheModelKeepsOnlyItsOwn()
            throws JobFailedException {
        TraceBody<Tensor> byAlias = tr -> {
            lm.get("blocks.3.ffn").output().zero_();
            return lm.get("lm_head").output().select(1, -1);
        };
        byte[] renamed = Packing.pack("TRACE", lm, new Object[] {PROMPT, null, byAlias, List.of(),
                Map.of("model.layers", List.of("blocks"), "mlp", List.of("ffn"))},
                BatchExecutionTest.class.getClassLoader()).write();
        List<byte[]> requests = List.of(trace(lastLogits()), renamed, trace(ablatedLogits(4)));
        Map<String, List<String>> own = lm.renames();
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(3, new ArrayList<>()), BatchLimits.DEFAULT);

        assertRan(report, List.of(2), 1, 0, 0, "the job with aliases of its own ran alone");
        assertSameResult(lm.trace(PROMPT, tr -> {
            lm.get("model.layers.3.mlp").output().zero_();
            return lm.get("lm_head").output().select(1, -1);
        }), decode(report.outcomes().get(1).get()));
        assertEquals(own, lm.renames(), "the aliases were the job's only");
        assertThrows(IllegalArgumentException.class, () -> lm.get("blocks"));
    }

    @Test
    void execute_ofAliasesThatDoNotFitTheModel_failsSayingWhich_beforeTheBodyRuns() {
        List<String> printed = new ArrayList<>();
        TraceBody<Tensor> body = tr -> {
            System.out.println("the body ran");
            return lm.get("lm_head").output();
        };
        byte[] request = Packing.pack("TRACE", lm, new Object[] {PROMPT, null, body, List.of(),
                Map.of("model.layerz", List.of("blocks"))}, BatchExecutionTest.class.getClassLoader()).write();

        JobFailedException failed = assertThrows(JobFailedException.class,
                () -> new SandboxedExecutor().execute(lm, request, context("misfit", printed)));

        assertTrue(failed.getMessage().contains("do not fit") && failed.getMessage().contains("'model.layerz'")
                && failed.getMessage().contains("model.layers"), failed.getMessage());
        assertEquals(List.of(), printed);
    }

    @Test
    void executeBatch_ofARefusedRequest_failsItAsExecuteDoes() {
        byte[] garbage = {1, 2, 3};
        List<byte[]> requests = List.of(trace(lastLogits()), garbage);
        SandboxedExecutor executor = new SandboxedExecutor();
        JobFailedException solo = assertThrows(JobFailedException.class,
                () -> executor.execute(lm, garbage, context("alone", new ArrayList<>())));

        BatchReport report = executor.executeBatch(lm, requests, contexts(2, new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(1), 1, 0, 0, "the refused request ran alone");
        assertNotNull(outcomes.get(0).result());
        assertEquals(solo.getMessage(), outcomes.get(1).failure().getMessage());
    }

    /** A divisor that the server sets, as the client had it when it packed, before it reads the job's values. */
    static final class Divisor {
        static int value;
    }

    /**
     * A value whose constants divide by {@link Divisor#value} when made: an enum's static initializer ships with it
     * (its constants are made there), so on the server it divides by the divisor the client packed, while its job's
     * values are read.
     */
    enum Share {
        HALF;

        final int part = 10 / Divisor.value;
    }

    @Test
    void executeBatch_memberWhoseValuesThrowAnErrorWhenRead_runsAlone_andFailsWithExecutesMessage()
            throws JobFailedException {
        Divisor.value = 2;
        Share share = Share.HALF; // made here with 2; the server makes it with the 0 packed
        Divisor.value = 0;
        TraceBody<Integer> capturing = tr -> {
            lm.get("lm_head").output();
            return share.part;
        };
        // the member is not in the pass: it fails alone, as it does with execute
        assertFailsInBatchAsAlone(capturing, "ExceptionInInitializerError", List.of(2), 1);
    }

    @Test
    void executeBatch_memberPastItsTimeLimit_failsAlone_withExecutesMessage() throws JobFailedException {
        TraceBody<Long> endless = tr -> {
            long spins = lm.get("model.layers.0").output().size(0);
            while (spins > 0) {
                spins++;
            }
            return spins;
        };
        List<byte[]> requests = List.of(trace(lastLogits()), trace(endless), trace(ablatedLogits(2)));
        List<List<String>> logs = new ArrayList<>();
        List<JobContext> contexts = contexts(3, logs);
        contexts.set(1, new JobContext("endless", Duration.ofSeconds(1), line -> {}));
        SandboxedExecutor executor = new SandboxedExecutor();
        JobFailedException solo = assertThrows(JobFailedException.class,
                () -> executor.execute(lm, requests.get(1), contexts.get(1)));

        BatchReport report = executor.executeBatch(lm, requests, contexts, BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(3), 0, 0, 0);
        assertEquals(solo.getMessage(), outcomes.get(1).failure().getMessage());
        assertTrue(solo.getMessage().contains("time limit of 1 s"), solo.getMessage());
        List<Object> expected = alone(List.of(requests.get(0), requests.get(2)));
        assertSameResult(expected.get(0), decode(outcomes.get(0).get()));
        assertSameResult(expected.get(1), decode(outcomes.get(2).get()));
    }

    /** Counts the runs of the job's code in the JVM it runs in: each run has classes of its own. */
    private static int runs;

    @Test
    void executeBatch_rerunOfAnEvictedMember_startsFromFreshStatics() throws JobFailedException {
        TraceBody<Integer> counting = tr -> {
            runs++;
            lm.get("model.layers.0.self_attn.attention_probs").output(); // evicts: it changes every row's attention
            return runs;
        };
        runs = 0;
        List<byte[]> requests = List.of(trace(counting), trace(lastLogits()));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(2, new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2), 0, 1, 1);
        assertEquals(1, decode(outcomes.get(0).get()), "the batched attempt's increment is gone");
        assertEquals(0, runs, "the caller's static is the caller's");
    }

    @Test
    void executeBatch_memberWhoseReplacementHasTheWrongShape_failsAlone_withExecutesMessage() throws JobFailedException {
        TraceBody<Tensor> misshapen = tr -> {
            lm.get("model.layers.1").setOutput(torch.zeros(1, 2, 32));
            return lm.get("lm_head").output().select(1, -1);
        };
        assertFailsInBatchAsAlone(misshapen, "has shape [1, 2, 32]", List.of(3), 0);
    }

    @Test
    void executeBatch_memberWhoseReplacementHasAnotherDtype_failsAlone_withExecutesMessage() throws JobFailedException {
        TraceBody<Tensor> integral = tr -> {
            lm.get("model.layers.1").setOutput(torch.zeros(1, 16, 64).to(torch.ScalarType.Long));
            return lm.get("lm_head").output().select(1, -1);
        };
        assertFailsInBatchAsAlone(integral, "holds Long values", List.of(3), 0);
    }

    /**
     * A batch of a trace with {@code failing} between two that succeed, run in shared passes of {@code jobsPerPass}
     * jobs, {@code solo} of them alone, with no re-run: the failing member gets the error it gets alone (which says
     * {@code says}); the others, their results alone.
     */
    private void assertFailsInBatchAsAlone(TraceBody<?> failing, String says, List<Integer> jobsPerPass, int solo)
            throws JobFailedException {
        List<byte[]> requests = List.of(trace(lastLogits()), trace(failing), trace(ablatedLogits(2)));
        SandboxedExecutor executor = new SandboxedExecutor();
        JobFailedException alone = assertThrows(JobFailedException.class,
                () -> executor.execute(lm, requests.get(1), context("alone", new ArrayList<>())));

        BatchReport report = executor.executeBatch(lm, requests, contexts(3, new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, jobsPerPass, solo, 0, 0);
        assertTrue(alone.getMessage().contains(says), alone.getMessage());
        assertEquals(alone.getMessage(), outcomes.get(1).failure().getMessage());
        List<Object> expected = alone(List.of(requests.get(0), requests.get(2)));
        assertSameResult(expected.get(0), decode(outcomes.get(0).get()));
        assertSameResult(expected.get(1), decode(outcomes.get(2).get()));
    }

    @Test
    void executeBatch_ofMixedLengths_runsOneForwardPassPerLength_withoutReruns() throws JobFailedException {
        String shorter = "Lily and Tom";
        String longer = PROMPT + " She liked to play in the park with her dog.";
        List<byte[]> requests = List.of(trace(lastLogits()), trace(shorter, lastLogits()), trace(layerOutputs()),
                trace(longer, ablatedLogits(4)), trace(shorter, steeredArgmax(2.0)), trace(longer, layerOutputs()));
        SandboxedExecutor executor = new SandboxedExecutor();
        List<List<String>> logs = new ArrayList<>();

        BatchReport report = executor.executeBatch(lm, requests, contexts(requests.size(), logs), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2, 2, 2), 0, 0, 0,
                "three lengths, three forward passes, no job run again");
        assertEachGetsWhatItGetsAlone(requests, outcomes);
        List<?> layers = (List<?>) decode(outcomes.get(5).get());
        long ownLength = lm.trace(longer, tr -> lm.get("model.layers.0").output().size(1));
        assertEquals(ownLength, ((Tensor) layers.get(0)).size(1), "its hidden states have its own length, not another's");
    }

    @Test
    void executeBatch_overTheRowLimit_splitsTheGroupInOrder_andAJobOverItAloneGetsAPassOfItsOwn()
            throws JobFailedException {
        List<byte[]> requests = List.of(trace(lastLogits()), trace(ablatedLogits(2)),
                Packing.pack("TRACE", lm, new Object[] {List.of(PROMPT, PROMPT, PROMPT), null, lastLogits(), List.of(), Map.of()},
                        BatchExecutionTest.class.getClassLoader()).write(),
                trace(steeredArgmax(2.0)), trace(layerOutputs()));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(requests.size(), new ArrayList<>()),
                new BatchLimits(2, 4096));
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2, 1, 2), 0, 0, 0, "[0, 1], [2] alone, [3, 4]");
        assertEquals(List.of(2, 3, 2), report.forwards().stream().map(BatchReport.Forward::rows).toList());
        assertEachGetsWhatItGetsAlone(requests, outcomes);
        assertEquals(3, ((Tensor) decode(outcomes.get(2).get())).size(0), "its three rows");
    }

    /** A trace whose body sets up two invokes, each keeping its last logits. */
    private static byte[] twoInvokes(String first, String second) {
        TraceBody<List<Tensor>> body = tr -> {
            List<Tensor> seen = new ArrayList<>();
            tr.invoke(first, () -> seen.add(NNsight.save(lm.get("lm_head").output().select(1, -1))));
            tr.invoke(second, () -> seen.add(NNsight.save(lm.get("lm_head").output().select(1, -1))));
            return seen;
        };
        return Packing.pack("TRACE", lm, new Object[] {null, null, body, List.of(), Map.of()},
                BatchExecutionTest.class.getClassLoader()).write();
    }

    @Test
    void executeBatch_tracesThatSetUpInvokes_shareAPass_andOneOfAnotherLengthIsEvictedAndRerun()
            throws JobFailedException {
        long length = lm.trace(PROMPT, tr -> lm.get("lm_head").output().size(1));
        List<byte[]> requests = List.of(trace(lastLogits()), twoInvokes(PROMPT, PROMPT),
                twoInvokes("Lily and Tom", PROMPT), twoInvokes(PROMPT, PROMPT));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(requests.size(), new ArrayList<>()),
                BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(1, 3), 0, 1, 1, "the plain trace, then the three set-up traces, one padded");
        assertEquals(4, report.forwards().get(1).rows(), "the two that stayed, two rows each");
        assertEquals(4 * length, report.forwards().get(1).tokens());
        assertEachGetsWhatItGetsAlone(requests, outcomes);
        assertEquals(2, ((List<?>) decode(outcomes.get(2).get())).size(), "the evicted one, run alone, has both");
    }

    @Test
    void executeBatch_tracesThatSetUpInvokes_overTheRowLimit_areEvictedAndRerunAlone() throws JobFailedException {
        List<byte[]> requests = List.of(twoInvokes(PROMPT, PROMPT), twoInvokes(PROMPT, PROMPT),
                twoInvokes(PROMPT, PROMPT));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(requests.size(), new ArrayList<>()),
                new BatchLimits(3, 4096));
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(3), 0, 2, 2, "at most three jobs planned in a pass; once set up, only one fits");
        assertEquals(2, report.forwards().get(0).rows());
        assertEachGetsWhatItGetsAlone(requests, outcomes);
    }

    @Test
    void executeBatch_overTheTokenLimit_splitsTheGroup() throws JobFailedException {
        long length = lm.trace(PROMPT, tr -> lm.get("lm_head").output().size(1));
        List<byte[]> requests = List.of(trace(lastLogits()), trace(ablatedLogits(2)), trace(ablatedLogits(3)));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(requests.size(), new ArrayList<>()),
                new BatchLimits(16, 2 * length));
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2, 1), 0, 0, 0, "two prompts' tokens per pass");
        assertEquals(List.of(2 * length, length), report.forwards().stream().map(BatchReport.Forward::tokens).toList());
        assertEachGetsWhatItGetsAlone(requests, outcomes);
    }

    /** Zeroes half of layer 1's hidden state through a chunk: libtorch refuses that in place with autograd on. */
    private static TraceBody<Tensor> halfZeroedLogits() {
        return tr -> {
            lm.get("model.layers.1").output().chunk(2, -1).get(0).zero_();
            return lm.get("lm_head").output().select(1, -1);
        };
    }

    @Test
    void execute_ofCodeThatCannotUseAutograd_runsItWithAutogradOff() throws JobFailedException {
        RuntimeException recorded = assertThrows(RuntimeException.class, () -> lm.trace(PROMPT, halfZeroedLogits()));
        Tensor local;
        try (NoGradGuard off = new NoGradGuard()) {
            local = lm.trace(PROMPT, halfZeroedLogits());
        }

        Object remote = decode(new SandboxedExecutor().execute(lm, trace(halfZeroedLogits()),
                context("alone", new ArrayList<>())));

        assertTrue(recorded.getMessage().contains("is being modified inplace"), recorded.getMessage());
        assertTrue(local.equal((Tensor) remote), "the values of the trace run locally with autograd off");
    }

    @Test
    void execute_ofCodeThatAsksWhetherAutogradRecords_runsItWithAutogradOn() throws JobFailedException {
        TraceBody<Boolean> asking = tr -> lm.get("model.layers.1").output().requires_grad();

        Object remote = decode(new SandboxedExecutor().execute(lm, trace(asking), context("alone", new ArrayList<>())));

        assertEquals(true, lm.trace(PROMPT, asking), "locally");
        assertEquals(true, remote);
    }

    @Test
    void executeBatch_memberWhoseCodeCanUseAutograd_runsAlone_andTheOthersShareAPassWithAutogradOff()
            throws JobFailedException {
        TraceBody<Boolean> asking = tr -> lm.get("model.layers.1").output().requires_grad();
        List<byte[]> requests = List.of(trace(lastLogits()), trace(asking), trace(halfZeroedLogits()));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts(3, new ArrayList<>()), BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2), 1, 0, 0, "the job that asks runs alone");
        assertEachGetsWhatItGetsAlone(requests, outcomes);
        assertEquals(true, decode(outcomes.get(1).get()));
    }

    @Test
    void executeBatch_peerWithASlowBody_doesNotUseUpAMembersTimeLimit() throws JobFailedException {
        TraceBody<Tensor> quick = tr -> {
            Tensor logits = lm.get("lm_head").output().select(1, -1);
            for (int i = 0; i < 3; i++) {
                logits = logits.add(new Scalar(0.0));
            }
            return logits;
        };
        TraceBody<Tensor> slow = tr -> {
            long start = System.nanoTime();
            long spins = 0;
            while (System.nanoTime() - start < 2_000_000_000L) {
                spins++;
            }
            return lm.get("lm_head").output().select(1, -1).add(new Scalar(spins * 0.0));
        };
        List<byte[]> requests = List.of(trace(quick), trace(slow));
        List<JobContext> contexts = contexts(2, new ArrayList<>());
        contexts.set(0, new JobContext("quick", Duration.ofSeconds(1), line -> {}));
        SandboxedExecutor executor = new SandboxedExecutor();

        BatchReport report = executor.executeBatch(lm, requests, contexts, BatchLimits.DEFAULT);
        List<JobOutcome> outcomes = report.outcomes();

        assertRan(report, List.of(2), 0, 0, 0);
        assertNull(outcomes.get(0).failure(), () -> outcomes.get(0).failure().getMessage());
        List<Object> expected = alone(requests);
        assertSameResult(expected.get(0), decode(outcomes.get(0).get()));
        assertSameResult(expected.get(1), decode(outcomes.get(1).get()));
    }
}
