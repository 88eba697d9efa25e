package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Invoke;
import io.nnsight.NNsight;
import io.nnsight.NotReachedException;
import io.nnsight.OutOfOrderException;
import io.nnsight.Tensors;
import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.internal.engine.ThreadEngine;
import io.nnsight.spi.BodyContext;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.TraceBatch;
import io.nnsight.spi.Traceable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * stories260K, several traces sharing one forward pass ({@link TraceBatch}): each gets the logits it gets alone,
 * within the project's tolerance for batched float32 (batched logits differ from solo ones by up to ~1.3e-5 on
 * this model, see {@code docs/plans/cobatching.md}): atol 1e-4 on logits, argmax tokens exactly.
 */
class CohortStoriesTest {
    private static final int LENGTH = 7;

    private static LanguageModel lm;
    private static long[][] prompts;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        Random random = new Random(7);
        prompts = new long[6][LENGTH];
        for (long[] prompt : prompts) {
            prompt[0] = 1; // BOS
            for (int i = 1; i < LENGTH; i++) {
                prompt[i] = 3 + random.nextInt(500);
            }
        }
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    private static TraceBatch.Member member(NNsight model, Object input, TraceBody<?> body) {
        return new TraceBatch.Member(new TraceJob<>(model, input, body), BodyContext.NONE);
    }

    private static TraceBatch.Member logits(Object input) {
        return member(lm, input, tr -> lm.get("lm_head").output());
    }

    private static Object solo(TraceBatch.Member member) {
        return member.job().run();
    }

    private static Object result(TraceBatch.Outcome outcome) {
        return assertInstanceOf(TraceBatch.Result.class, outcome).value();
    }

    private static void assertSameLogits(Object expected, Object actual) {
        if (expected instanceof List) {
            assertEquals(((List<?>) expected).size(), ((List<?>) actual).size());
            for (int i = 0; i < ((List<?>) expected).size(); i++) {
                assertSameLogits(((List<?>) expected).get(i), ((List<?>) actual).get(i));
            }
        } else if (expected instanceof Invoke) {
            assertSameLogits(((Invoke<?>) expected).get(), ((Invoke<?>) actual).get());
        } else if (expected instanceof Tensor) {
            Tensor e = (Tensor) expected;
            Tensor x = (Tensor) actual;
            assertEquals(Arrays.toString(Tensors.shape(e)), Arrays.toString(Tensors.shape(x)));
            assertTrue(torch.allclose(e, x, 0, 1e-4, false), "batched logits differ from solo ones by "
                    + e.sub(x).abs().max().item_double());
            if (e.dim() > 1) {
                assertTrue(torch.equal(e.argmax(new org.bytedeco.pytorch.LongOptional(-1), false),
                        x.argmax(new org.bytedeco.pytorch.LongOptional(-1), false)), "argmax tokens differ");
            }
        } else {
            assertEquals(expected, actual);
        }
    }

    @Test
    void eachCohort_getsTheLogitsItGetsAlone() {
        NNsight edited = lm.edit(tr -> {
            lm.get("model.layers.4.mlp").output().zero_();
            return null;
        });
        List<TraceBatch.Member> members = List.of(
                logits(prompts[0]),
                logits(new long[][] {prompts[1], prompts[2]}),
                member(lm, null, tr -> List.of(
                        tr.invoke(prompts[3], () -> lm.get("lm_head").output()),
                        tr.invoke(() -> lm.get("model.layers.2").output().size(0)),
                        tr.invoke(prompts[4], () -> lm.get("model.layers.1").output().clone()))),
                member(edited, prompts[5], tr -> lm.get("lm_head").output()));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        for (int i = 0; i < members.size(); i++) {
            assertSameLogits(solo(members.get(i)), result(outcomes.get(i)));
        }
        assertEquals(2L, ((Invoke<?>) ((List<?>) result(outcomes.get(2))).get(1)).get(), "the invoke without input "
                + "sees its trace's 2 rows");
    }

    @Test
    void throwingCohort_failsAloneAndTheOthersGetTheirSoloLogits() {
        IllegalStateException boom = new IllegalStateException("boom");
        TraceBatch.Member throwing = member(lm, prompts[1], tr -> {
            lm.get("model.layers.1").output().zero_();
            throw boom;
        });
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), throwing, logits(prompts[2]));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        assertSameLogits(solo(members.get(0)), result(outcomes.get(0)));
        assertSame(boom, assertInstanceOf(TraceBatch.Failed.class, outcomes.get(1)).error());
        assertSameLogits(solo(members.get(2)), result(outcomes.get(2)));
    }

    @Test
    void waitingForAttentionProbs_evictsTheCallerBeforeTheAttentionRuns() {
        List<String> after = new ArrayList<>();
        TraceBatch.Member probs = member(lm, prompts[1], tr -> {
            Tensor pattern = lm.get("model.layers.0.self_attn.attention_probs").output();
            after.add("read");
            return pattern;
        });
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), probs, logits(prompts[2]));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(1)).why().contains("attention_probs"));
        assertEquals(List.of(), after);
        assertSameLogits(solo(members.get(0)), result(outcomes.get(0)));
        assertSameLogits(solo(members.get(2)), result(outcomes.get(2)));
    }

    /** Reads the output of {@code layer}, stops, notes that the stop returned, and returns what it read. */
    private static TraceBatch.Member stoppingAfter(Object prompt, int layer, List<String> notes) {
        return member(lm, prompt, tr -> {
            Tensor hidden = lm.get("model.layers." + layer).output().clone();
            tr.stop();
            notes.add("stop returned after layer " + layer);
            return hidden;
        });
    }

    /** Counts the calls of the model's {@code lm_head} until closed. */
    private static HookPoint.Registration countHeadCalls(AtomicInteger calls) {
        return ((Traceable) lm.get("lm_head").module()).hookPoint().add((inputs, proceed) -> {
            calls.incrementAndGet();
            return proceed.apply(inputs);
        });
    }

    @Test
    void stoppingCohort_getsWhatItGetsAlone_withoutEviction_andTheOthersGoOnUnchanged() {
        List<String> notes = Collections.synchronizedList(new ArrayList<>());
        TraceBatch.Member stopping = stoppingAfter(prompts[1], 1, notes);
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), stopping, logits(prompts[2]));
        AtomicInteger headCalls = new AtomicInteger();
        List<TraceBatch.Outcome> outcomes;
        List<TraceBatch.Outcome> withoutStop;
        try (HookPoint.Registration counter = countHeadCalls(headCalls)) {
            outcomes = TraceBatch.run(lm, members);
            assertEquals(1, headCalls.get(), "the forward pass went on for the others");
            // the same pass with a member of the same rows that does not stop
            withoutStop = TraceBatch.run(lm, List.of(logits(prompts[0]), logits(prompts[1]), logits(prompts[2])));
        }
        assertEquals(List.of("stop returned after layer 1"), notes, "the body ran on after its stop, once");

        assertSameLogits(solo(stopping), result(outcomes.get(1)));
        assertSameLogits(solo(members.get(0)), result(outcomes.get(0)));
        assertSameLogits(solo(members.get(2)), result(outcomes.get(2)));
        for (int i : new int[] {0, 2}) {
            assertTrue(torch.equal((Tensor) result(withoutStop.get(i)), (Tensor) result(outcomes.get(i))),
                    "the stopped member's rows were computed as if it had not stopped: the others' logits are equal");
        }
    }

    @Test
    void stoppingCohort_askingForValuesAfterTheStop_failsAsAlone() {
        TraceBatch.Member later = member(lm, prompts[1], tr -> {
            lm.get("model.layers.1").output();
            tr.stop();
            return lm.get("model.layers.3").output();
        });
        TraceBatch.Member earlier = member(lm, prompts[2], tr -> {
            lm.get("model.layers.1").output();
            tr.stop();
            return lm.get("model.layers.0").output();
        });
        TraceBatch.Member otherInvoke = member(lm, null, tr -> List.of(
                tr.invoke(prompts[3], () -> {
                    Tensor hidden = lm.get("model.layers.2").output().clone();
                    tr.stop();
                    return hidden;
                }),
                tr.invoke(prompts[4], () -> {
                    try {
                        return lm.get("lm_head").output();
                    } catch (NotReachedException e) {
                        return e.getMessage();
                    }
                })));
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), later, earlier, otherInvoke, logits(prompts[5]));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        NotReachedException notReached = assertThrows(NotReachedException.class, () -> solo(later));
        assertTrue(notReached.getMessage().contains("tr.stop() ended the run before that"), notReached.getMessage());
        Throwable batched = assertInstanceOf(TraceBatch.Failed.class, outcomes.get(1)).error();
        assertInstanceOf(NotReachedException.class, batched);
        assertEquals(notReached.getMessage(), batched.getMessage());

        OutOfOrderException outOfOrder = assertThrows(OutOfOrderException.class, () -> solo(earlier));
        Throwable batchedOutOfOrder = assertInstanceOf(TraceBatch.Failed.class, outcomes.get(2)).error();
        assertInstanceOf(OutOfOrderException.class, batchedOutOfOrder);
        assertEquals(outOfOrder.getMessage(), batchedOutOfOrder.getMessage());

        List<?> alone = (List<?>) solo(otherInvoke);
        List<?> invokes = (List<?>) result(outcomes.get(3));
        assertSameLogits(alone, invokes);
        assertTrue(((String) ((Invoke<?>) invokes.get(1)).get()).contains("tr.stop() ended the run before that"),
                "the other invoke of the stopped trace is answered as alone");
        assertSameLogits(solo(members.get(0)), result(outcomes.get(0)));
        assertSameLogits(solo(members.get(4)), result(outcomes.get(4)));
    }

    @Test
    void stoppingCohort_keepsWhatItsCacheRecordedBeforeTheStop() {
        TraceBatch.Member caching = member(lm, new long[][] {prompts[1], prompts[2]}, tr -> {
            io.nnsight.Cache cache = tr.cache(io.nnsight.Cache.Include.BOTH);
            lm.get("model.layers.2").output();
            tr.stop();
            return cache;
        });
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), caching, logits(prompts[3]));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        io.nnsight.Cache alone = (io.nnsight.Cache) solo(caching);
        io.nnsight.Cache batched = (io.nnsight.Cache) result(outcomes.get(1));
        assertEquals(alone.modules().keySet(), batched.modules().keySet(), "the same modules recorded");
        assertTrue(alone.modules().containsKey("model.layers.1") && !alone.modules().containsKey("model.layers.3")
                && !alone.modules().containsKey("lm_head"), alone.modules().keySet().toString());
        for (String path : alone.modules().keySet()) {
            List<io.nnsight.Cache.Call> expected = alone.calls(path);
            List<io.nnsight.Cache.Call> actual = batched.calls(path);
            assertEquals(expected.size(), actual.size(), path);
            for (int i = 0; i < expected.size(); i++) {
                assertSameValues(expected.get(i).output(), actual.get(i).output(), path);
                assertSameValues(expected.get(i).inputs() == null ? null : expected.get(i).inputs().positional(),
                        actual.get(i).inputs() == null ? null : actual.get(i).inputs().positional(), path);
            }
        }
        assertSameLogits(solo(members.get(0)), result(outcomes.get(0)));
        assertSameLogits(solo(members.get(2)), result(outcomes.get(2)));
    }

    /** Equal values: tensors within the tests' tolerance, lists element by element, anything else equal. */
    private static void assertSameValues(Object expected, Object actual, String where) {
        if (expected instanceof Tensor e) {
            Tensor x = assertInstanceOf(Tensor.class, actual, where);
            assertEquals(Arrays.toString(Tensors.shape(e)), Arrays.toString(Tensors.shape(x)), where);
            assertTrue(torch.allclose(e, x, 0, 1e-4, false), where + ": batched values differ from solo ones by "
                    + e.sub(x).abs().max().item_double());
        } else if (expected instanceof List<?> e) {
            List<?> x = assertInstanceOf(List.class, actual, where);
            assertEquals(e.size(), x.size(), where);
            for (int i = 0; i < e.size(); i++) {
                assertSameValues(e.get(i), x.get(i), where + "[" + i + "]");
            }
        } else {
            assertEquals(expected, actual, where);
        }
    }

    @Test
    void everyCohortStopping_endsTheForwardPassEarly_eachWithItsSoloResult() {
        List<String> notes = Collections.synchronizedList(new ArrayList<>());
        List<TraceBatch.Member> members = List.of(stoppingAfter(prompts[0], 0, notes),
                stoppingAfter(new long[][] {prompts[1], prompts[2]}, 3, notes), stoppingAfter(prompts[3], 1, notes));
        AtomicInteger headCalls = new AtomicInteger();
        List<TraceBatch.Outcome> outcomes;
        try (HookPoint.Registration counter = countHeadCalls(headCalls)) {
            outcomes = TraceBatch.run(lm, members);
        }

        assertEquals(0, headCalls.get(), "the forward pass ended once every member had stopped");
        assertEquals(List.of("stop returned after layer 0", "stop returned after layer 1",
                "stop returned after layer 3"), notes, "in the order the pass reached the layers");
        for (int i = 0; i < members.size(); i++) {
            assertSameLogits(solo(members.get(i)), result(outcomes.get(i)));
        }
    }

    @Test
    void cohortStoppingBeforeTheModelStarts_endsAsAlone_andTheModelRunsForTheOthersOnly() {
        TraceBatch.Member early = member(lm, prompts[1], tr -> {
            tr.stop();
            return "stopped before the model ran";
        });
        TraceBatch.Member earlyThenReading = member(lm, prompts[2], tr -> {
            tr.stop();
            return lm.get("lm_head").output();
        });
        AtomicInteger headCalls = new AtomicInteger();
        List<TraceBatch.Outcome> outcomes;
        List<TraceBatch.Outcome> onlyEarly;
        try (HookPoint.Registration counter = countHeadCalls(headCalls)) {
            outcomes = TraceBatch.run(lm, List.of(early, logits(prompts[0]), earlyThenReading));
            assertEquals(1, headCalls.get(), "the model ran once, for the member that did not stop");
            onlyEarly = TraceBatch.run(lm, List.of(member(lm, prompts[3], early.job().body()),
                    member(lm, prompts[4], early.job().body())));
            assertEquals(1, headCalls.get(), "the model did not run for members that all stopped before it");
        }

        assertEquals(solo(early), result(outcomes.get(0)));
        assertEquals("stopped before the model ran", result(onlyEarly.get(0)));
        assertEquals("stopped before the model ran", result(onlyEarly.get(1)));
        assertSameLogits(solo(logits(prompts[0])), result(outcomes.get(1)));
        NotReachedException alone = assertThrows(NotReachedException.class, () -> solo(earlyThenReading));
        Throwable batched = assertInstanceOf(TraceBatch.Failed.class, outcomes.get(2)).error();
        assertInstanceOf(NotReachedException.class, batched);
        assertEquals(alone.getMessage(), batched.getMessage());
    }

    @Test
    void cachesOfCohorts_recordTheirOwnRows_andAFailingCohortsCacheStops() {
        TraceBatch.Member caching = member(lm, new long[][] {prompts[1], prompts[2]}, tr -> {
            io.nnsight.Cache cache = tr.cache("model.layers.1", "lm_head");
            lm.get("model.layers.3").output();
            return cache;
        });
        TraceBatch.Member failing = member(lm, prompts[3], tr -> {
            tr.cache();
            lm.get("model.layers.0").output();
            throw new IllegalStateException("after caching");
        });
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), failing, caching);
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        io.nnsight.Cache alone = (io.nnsight.Cache) solo(caching);
        io.nnsight.Cache batched = (io.nnsight.Cache) result(outcomes.get(2));
        assertSameLogits(alone.output("model.layers.1"), batched.output("model.layers.1"));
        assertSameLogits(alone.output("lm_head"), batched.output("lm_head"));
        assertInstanceOf(TraceBatch.Failed.class, outcomes.get(1));
        assertSameLogits(solo(members.get(0)), result(outcomes.get(0)));
    }

    @Test
    void cohortOfAnotherLengthOrPadded_isEvictedBeforeTheForward() {
        TraceBatch.Member shorter = logits(Arrays.copyOf(prompts[1], LENGTH - 2));
        TraceBatch.Member padded = logits(new long[][] {prompts[2], Arrays.copyOf(prompts[3], LENGTH - 1)});
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), shorter, padded, logits(prompts[4]));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(1)).why().contains("key"));
        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(2)).why().contains("key"));
        assertSameLogits(solo(members.get(0)), result(outcomes.get(0)));
        assertSameLogits(solo(members.get(3)), result(outcomes.get(3)));
    }

    @Test
    void prepare_givesEqualKeysToTracesThatShareAForwardPass_andCountsRowsAndPaddedTokens() {
        TraceBatch.Shape one = TraceBatch.prepare(lm, prompts[0]).shape();
        TraceBatch.Shape two = TraceBatch.prepare(lm, new long[][] {prompts[1], prompts[2]}).shape();
        TraceBatch.Shape shorter = TraceBatch.prepare(lm, Arrays.copyOf(prompts[1], LENGTH - 2)).shape();
        TraceBatch.Shape padded = TraceBatch.prepare(lm, new long[][] {prompts[2], Arrays.copyOf(prompts[3], LENGTH - 1)})
                .shape();

        assertEquals(new TraceBatch.Shape(one.key(), 1, LENGTH), one);
        assertEquals(new TraceBatch.Shape(one.key(), 2, 2 * LENGTH), two);
        assertEquals(new TraceBatch.Shape(shorter.key(), 1, LENGTH - 2), shorter);
        assertEquals(new TraceBatch.Shape(padded.key(), 2, 2 * LENGTH), padded);
        assertTrue(!one.key().equals(shorter.key()) && !one.key().equals(padded.key()), one + " " + shorter + " " + padded);
        // the keys agree with the batch's: traces of equal keys share the forward pass, none is evicted
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, List.of(logits(prompts[0]),
                logits(new long[][] {prompts[1], prompts[2]})));
        assertInstanceOf(TraceBatch.Result.class, outcomes.get(0));
        assertInstanceOf(TraceBatch.Result.class, outcomes.get(1));
    }

    /** A member that reads the logits of {@code input}, given its input prepared. */
    private static TraceBatch.Member preparedLogits(Object input) {
        return new TraceBatch.Member(new TraceJob<>(lm, input, tr -> lm.get("lm_head").output()), BodyContext.NONE,
                TraceBatch.prepare(lm, input));
    }

    @Test
    void membersGivenPreparedInputs_getTheLogitsTheyGetAlone_andTheShapesTheirInputsHad() {
        List<TraceBatch.Member> members = List.of(preparedLogits(prompts[0]), logits(prompts[1]),
                preparedLogits(prompts[2]));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members);

        for (int i = 0; i < members.size(); i++) {
            TraceBatch.Result batched = assertInstanceOf(TraceBatch.Result.class, outcomes.get(i));
            assertSameLogits(solo(members.get(i)), batched.value());
            assertEquals(TraceBatch.prepare(lm, prompts[i]).shape(), batched.shape());
        }
        String prompt = "Once upon a time";
        List<TraceBatch.Member> prompted = List.of(preparedLogits(prompt), logits(prompt));
        List<TraceBatch.Outcome> tokenized = TraceBatch.run(lm, prompted);
        assertSameLogits(solo(prompted.get(0)), result(tokenized.get(0)));
        assertSameLogits(solo(prompted.get(1)), result(tokenized.get(1)));
    }

    @Test
    void memberGivenAPreparedInput_runsOnItsTensors_withoutPreparingTheInputAgain() {
        TraceBatch.Member member = preparedLogits(prompts[0]);
        // the batch runs on the prepared tensors: changed, they give another prompt's logits
        member.input().prepared().inputs().tensor("input_ids").copy_(torch.tensor(prompts[1]).reshape(1, LENGTH));

        Object batched = result(TraceBatch.run(lm, List.of(member, logits(prompts[2]))).get(0));

        assertSameLogits(solo(logits(prompts[1])), batched);
    }

    @Test
    void preparedInput_isUsedByOneBatchOnly() {
        TraceBatch.Member member = preparedLogits(prompts[0]);
        assertInstanceOf(TraceBatch.Result.class, TraceBatch.run(lm, List.of(member)).get(0));

        IllegalStateException again = assertThrows(IllegalStateException.class,
                () -> TraceBatch.run(lm, List.of(logits(prompts[1]), member)));
        assertTrue(again.getMessage().contains("member 1") && again.getMessage().contains("prepare the input again"),
                again.getMessage());
        assertSameLogits(solo(logits(prompts[1])), result(TraceBatch.run(lm, List.of(logits(prompts[1]))).get(0)));
    }

    @Test
    void preparedInput_ofAnotherInputOrModel_isRefused() {
        TraceBatch.PreparedInput prepared = TraceBatch.prepare(lm, prompts[0]);
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                () -> new TraceBatch.Member(new TraceJob<>(lm, prompts[1], tr -> null), BodyContext.NONE, prepared));
        assertTrue(other.getMessage().contains("from its job's input"), other.getMessage());

        TraceBatch.Member ofLm = new TraceBatch.Member(new TraceJob<>(lm, prompts[0], tr -> null), BodyContext.NONE,
                prepared);
        NNsight unrelated = NNsight.wrap(new io.nnsight.nn.Mlp(4, 2, 3));
        IllegalArgumentException model = assertThrows(IllegalArgumentException.class,
                () -> TraceBatch.run(unrelated, List.of(ofLm)));
        assertTrue(model.getMessage().contains("prepared for another model"), model.getMessage());
        assertInstanceOf(TraceBatch.Result.class, TraceBatch.run(lm, List.of(ofLm)).get(0), "still unused");
    }

    @Test
    void prepare_ofAnInputTheModelCannotTake_failsAsTheTraceAloneFails() {
        Object bad = new double[] {1, 2};
        IllegalArgumentException prepared = assertThrows(
                IllegalArgumentException.class, () -> TraceBatch.prepare(lm, bad));
        IllegalArgumentException alone = assertThrows(IllegalArgumentException.class,
                () -> lm.trace(bad, tr -> null));
        assertEquals(alone.getMessage(), prepared.getMessage());
    }

    @Test
    void budget_evictsTheMembersThatWouldTakeThePassPastIt_afterTheirBodiesSetUpTheirInvokes() {
        TraceBody<List<Invoke<Tensor>>> twoInvokes = tr -> List.of(
                tr.invoke(prompts[1], () -> lm.get("lm_head").output()),
                tr.invoke(prompts[2], () -> lm.get("lm_head").output()));
        List<TraceBatch.Member> members = List.of(logits(prompts[0]), member(lm, null, twoInvokes),
                member(lm, null, twoInvokes), logits(prompts[3]));

        List<TraceBatch.Outcome> outcomes = TraceBatch.run(lm, members, new TraceBatch.Budget(4, 1000));

        TraceBatch.Result one = assertInstanceOf(TraceBatch.Result.class, outcomes.get(0));
        TraceBatch.Result set = assertInstanceOf(TraceBatch.Result.class, outcomes.get(1));
        assertEquals(new TraceBatch.Shape(one.shape().key(), 1, LENGTH), one.shape());
        assertEquals(new TraceBatch.Shape(one.shape().key(), 2, 2 * LENGTH), set.shape(), "known once set up");
        TraceBatch.Evicted full = assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(2));
        assertTrue(full.why().contains("past its budget of 4 rows"), full.why());
        assertInstanceOf(TraceBatch.Result.class, outcomes.get(3), "one row still fits");
        assertSameLogits(solo(members.get(1)), set.value());
        assertSameLogits(solo(members.get(3)), result(outcomes.get(3)));
        // over the budget on its own, the first member still runs
        TraceBatch.Outcome alone = TraceBatch.run(lm, List.of(member(lm, null, twoInvokes)), new TraceBatch.Budget(1, 1))
                .get(0);
        assertSameLogits(solo(members.get(1)), result(alone));
    }
}
