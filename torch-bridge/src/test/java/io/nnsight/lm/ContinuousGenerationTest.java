package io.nnsight.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Cache;
import io.nnsight.Invoke;
import io.nnsight.NotReachedException;
import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.Tensors;
import io.nnsight.internal.engine.ThreadEngine;
import io.nnsight.spi.BodyContext;
import io.nnsight.spi.ContinuousBatch;
import io.nnsight.spi.TraceBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generations batched continuously ({@link ContinuousBatch} with {@link LanguageModel#generationRunner()}): members
 * join at step boundaries and leave when done, and each gets what it gets alone: greedy tokens exactly, a seed's
 * samples exactly, logits within the tolerance {@code CohortStoriesTest} justifies for batched float32 (atol 1e-4
 * on stories260K, 1e-5 on the tiny fixtures), its own steps counted by {@code tr.all()}.
 */
class ContinuousGenerationTest {
    private static LanguageModel lm;
    private static final Random RANDOM = new Random(11);

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    @AfterEach
    void noBodyLeft() {
        assertEquals(0, ThreadEngine.liveBodies());
    }

    private static long[] prompt(int length) {
        long[] ids = new long[length];
        ids[0] = 1; // BOS
        for (int i = 1; i < length; i++) {
            ids[i] = 3 + RANDOM.nextInt(500);
        }
        return ids;
    }

    /** A member to admit at a boundary, and what it got. */
    private static final class Planned {
        final LanguageModel model;
        final Object input;
        final Generation generation;
        final TraceBody<?> body;
        final int joinAt;
        TraceBatch.Outcome outcome;
        int finishedAtBoundary = -1;

        Planned(LanguageModel model, Object input, Generation generation, int joinAt, TraceBody<?> body) {
            this.model = model;
            this.input = input;
            this.generation = generation;
            this.body = body;
            this.joinAt = joinAt;
        }

        Object solo() {
            return input == null ? model.generate(generation, body) : model.generate(input, generation, body);
        }

        Object result() {
            return assertInstanceOf(TraceBatch.Result.class, outcome, () -> "outcome " + outcome).value();
        }
    }

    /**
     * Runs {@code planned} as one continuous batch of {@code model}, each joining at its boundary.
     *
     * @return the steps the feed was told of: {@code [members, rows, tokens]} each
     */
    private static List<List<Long>> runContinuously(LanguageModel model, List<Planned> planned) {
        Map<ContinuousBatch.Member, Planned> byMember = new IdentityHashMap<>();
        List<List<Long>> steps = new ArrayList<>();
        int[] boundary = {0};
        ContinuousBatch.run(model, model.generationRunner().orElseThrow(), new ContinuousBatch.Feed() {
            @Override
            public List<ContinuousBatch.Member> admit(int running) {
                List<ContinuousBatch.Member> now = new ArrayList<>();
                for (Planned plan : planned) {
                    if (plan.joinAt == boundary[0]) {
                        ContinuousBatch.Member member = new ContinuousBatch.Member(new TraceJob<>(plan.model, plan.input,
                                plan.body), plan.generation, BodyContext.NONE);
                        byMember.put(member, plan);
                        now.add(member);
                    }
                }
                boolean later = planned.stream().anyMatch(plan -> plan.joinAt > boundary[0]);
                boundary[0]++;
                if (now.isEmpty() && later && running == 0) {
                    throw new AssertionError("the plan has a gap: nothing runs before a later member joins");
                }
                return now;
            }

            @Override
            public void finished(ContinuousBatch.Member member, TraceBatch.Outcome outcome) {
                Planned plan = byMember.remove(member);
                assertTrue(plan.outcome == null, "one outcome per member");
                plan.outcome = outcome;
                plan.finishedAtBoundary = boundary[0];
            }

            @Override
            public void stepped(int members, int rows, long tokens) {
                steps.add(List.of((long) members, (long) rows, tokens));
            }
        }, 256);
        for (Planned plan : planned) {
            assertTrue(plan.outcome != null, "every member gets an outcome");
        }
        return steps;
    }

    /** The generated ids and each step's last-position logits. */
    private static TraceBody<List<Object>> tokensAndLogits(LanguageModel model) {
        return tr -> {
            List<Tensor> steps = new ArrayList<>();
            for (int step : tr.all()) {
                Tensor logits = model.get("lm_head").output();
                steps.add(logits.select(1, logits.size(1) - 1));
            }
            return List.of(model.get("generator").output(), steps);
        };
    }

    @SuppressWarnings("unchecked")
    private static void assertSameGeneration(Object solo, Object batched, double atol) {
        List<Object> expected = (List<Object>) solo;
        List<Object> actual = (List<Object>) batched;
        Tensor expectedIds = (Tensor) expected.get(0);
        Tensor actualIds = (Tensor) actual.get(0);
        assertEquals(Arrays.toString(Tensors.longs(expectedIds.flatten())), Arrays.toString(Tensors.longs(actualIds.flatten())),
                "the tokens of the run alone");
        List<Tensor> expectedSteps = (List<Tensor>) expected.get(1);
        List<Tensor> actualSteps = (List<Tensor>) actual.get(1);
        assertEquals(expectedSteps.size(), actualSteps.size(), "steps");
        for (int i = 0; i < expectedSteps.size(); i++) {
            Tensor e = expectedSteps.get(i);
            Tensor x = actualSteps.get(i);
            assertEquals(Arrays.toString(Tensors.shape(e)), Arrays.toString(Tensors.shape(x)));
            assertTrue(torch.allclose(e, x, 0, atol, false), "step " + i + ": logits differ from solo ones by "
                    + e.sub(x).abs().max().item_double());
        }
    }

    @Test
    void joiningLateAndLeavingEarly_giveTheTokensAndLogitsOfSoloRuns() {
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(9), 0, tokensAndLogits(lm)),
                new Planned(lm, prompt(4), Generation.maxNewTokens(2), 0, tokensAndLogits(lm)),
                new Planned(lm, new long[][] {prompt(5), prompt(8)}, Generation.maxNewTokens(5), 3, tokensAndLogits(lm)),
                new Planned(lm, prompt(9), Generation.maxNewTokens(4), 4, tokensAndLogits(lm)),
                new Planned(lm, prompt(9), Generation.maxNewTokens(1), 4, tokensAndLogits(lm)),
                new Planned(lm, prompt(3), Generation.maxNewTokens(6), 6, tokensAndLogits(lm)));
        runContinuously(lm, planned);
        for (Planned plan : planned) {
            assertSameGeneration(plan.solo(), plan.result(), 1e-4);
        }
        assertTrue(planned.get(1).finishedAtBoundary < planned.get(0).finishedAtBoundary,
                "the short generation left before the long one ended");
    }

    @Test
    void eachStep_isToldToTheFeed_withItsMembersRowsAndTokens_butNotTheGeneratorsPasses() {
        List<String> pair = List.of("The cat sat", "Tom ran to the park");
        List<Planned> planned = List.of(
                new Planned(lm, "Once upon a time", Generation.maxNewTokens(4), 0, tokensAndLogits(lm)),
                new Planned(lm, pair, Generation.maxNewTokens(2), 1, tokensAndLogits(lm)));
        long firstPrompt = TraceBatch.prepare(lm, "Once upon a time").shape().tokens();
        long pairPrompts = TraceBatch.prepare(lm, pair).shape().tokens();

        List<List<Long>> steps = runContinuously(lm, planned);

        assertEquals(List.of(1L, 1L, firstPrompt), steps.get(0), "the first step runs the first prompt: " + steps);
        assertTrue(steps.contains(List.of(1L, 2L, pairPrompts)), "the pair's prompts join in a step of their own");
        assertTrue(steps.contains(List.of(2L, 3L, 3L)), "then both share steps of a token per row: " + steps);
        assertEquals(4 + 2, steps.stream().mapToLong(step -> step.get(0)).sum(),
                "a generation of n tokens is in n steps; the generator's passes on its ids are no steps: " + steps);
        for (List<Long> step : steps) {
            if (step.get(2) != firstPrompt && step.get(2) != pairPrompts) {
                assertEquals(step.get(1), step.get(2), "a later step runs one token per row: " + steps);
            }
        }
        for (Planned plan : planned) {
            assertSameGeneration(plan.solo(), plan.result(), 1e-4);
        }
    }

    @Test
    void aSeed_samplesWhatItSamplesAlone() {
        Generation first = Generation.maxNewTokens(12).temperature(1.5).seed(5);
        Generation second = Generation.maxNewTokens(7).temperature(1.5).topK(40).seed(9);
        TraceBody<Tensor> ids = tr -> lm.get("generator").output();
        List<Planned> planned = List.of(
                new Planned(lm, prompt(5), first, 0, ids),
                new Planned(lm, prompt(5), Generation.maxNewTokens(10), 0, ids),
                new Planned(lm, new long[][] {prompt(7), prompt(7)}, second, 2, ids));
        runContinuously(lm, planned);
        for (Planned plan : planned) {
            Tensor solo = (Tensor) plan.solo();
            assertTrue(torch.equal(solo, (Tensor) plan.result()), "sampled tokens differ from the solo run's: "
                    + Arrays.toString(Tensors.longs(solo.flatten())) + " alone, "
                    + Arrays.toString(Tensors.longs(((Tensor) plan.result()).flatten())) + " batched");
        }
    }

    @Test
    void aLateJoiner_countsItsOwnSteps_fromItsPrompt() {
        TraceBody<List<Object>> counting = tr -> {
            List<Object> seen = new ArrayList<>();
            for (int step : tr.all()) {
                seen.add(Tensors.shape(lm.get("lm_head").output())[1] + "@" + step);
            }
            return seen;
        };
        TraceBody<Tensor> tooFar = tr -> {
            for (int i = 0; i < 5; i++) {
                tr.next();
            }
            return lm.get("lm_head").output();
        };
        List<Planned> planned = List.of(
                new Planned(lm, prompt(4), Generation.maxNewTokens(10), 0, counting),
                new Planned(lm, prompt(6), Generation.maxNewTokens(4), 5, counting),
                new Planned(lm, prompt(6), Generation.maxNewTokens(4), 5, tooFar));
        runContinuously(lm, planned);
        assertEquals(List.of("6@0", "1@1", "1@2", "1@3"), planned.get(1).result(), "step 0 is its own prompt");
        for (Planned plan : planned.subList(0, 2)) {
            assertEquals(plan.solo(), plan.result());
        }
        Throwable batched = assertInstanceOf(TraceBatch.Failed.class, planned.get(2).outcome).error();
        NotReachedException alone = assertThrows(NotReachedException.class, planned.get(2)::solo);
        assertInstanceOf(NotReachedException.class, batched);
        assertEquals(alone.getMessage(), batched.getMessage(), "it counts its own 4 steps, as alone");
    }

    @Test
    void aPerStepIntervention_changesOnlyItsOwnGeneration() {
        Tensor direction = torch.full(new long[] {64}, new Scalar(0.5));
        LanguageModel steered = lm.edit(tr -> {
            for (int step : tr.all()) {
                lm.get("model.layers.3.mlp").output().add_(direction);
            }
            return null;
        });
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(8), 0, tokensAndLogits(lm)),
                new Planned(steered, prompt(6), Generation.maxNewTokens(8), 2, tokensAndLogits(steered)),
                new Planned(lm, prompt(5), Generation.maxNewTokens(6), 2, tr -> {
                    List<Tensor> steps = new ArrayList<>();
                    for (int step : tr.all()) {
                        lm.get("model.layers.1.mlp").output().mul_(new Scalar(0.0));
                        Tensor logits = lm.get("lm_head").output();
                        steps.add(logits.select(1, logits.size(1) - 1));
                    }
                    return List.of(lm.get("generator").output(), steps);
                }));
        runContinuously(lm, planned);
        for (Planned plan : planned) {
            assertSameGeneration(plan.solo(), plan.result(), 1e-4);
        }
    }

    @Test
    void aFailingBody_failsItsGenerationOnly() {
        IllegalStateException boom = new IllegalStateException("boom");
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(8), 0, tokensAndLogits(lm)),
                new Planned(lm, prompt(6), Generation.maxNewTokens(8), 1, tr -> {
                    for (int step : tr.all()) {
                        lm.get("lm_head").output();
                        if (step == 2) {
                            throw boom;
                        }
                    }
                    return null;
                }),
                new Planned(lm, prompt(4), Generation.maxNewTokens(6), 3, tokensAndLogits(lm)));
        runContinuously(lm, planned);
        assertSame(boom, assertInstanceOf(TraceBatch.Failed.class, planned.get(1).outcome).error());
        assertTrue(planned.get(1).finishedAtBoundary < planned.get(0).finishedAtBoundary, "it failed at its step 2");
        assertSameGeneration(planned.get(0).solo(), planned.get(0).result(), 1e-4);
        assertSameGeneration(planned.get(2).solo(), planned.get(2).result(), 1e-4);
        Tensor logits = lm.trace(prompt(5), tr -> lm.get("lm_head").output());
        assertEquals(3, logits.dim(), "the model traces after the run");
    }

    /** Each step's last logits up to step {@code last}, then a stop; and what asking for the tokens then gives. */
    private static TraceBody<List<Object>> stoppingAtStep(int last) {
        return tr -> {
            List<Object> seen = new ArrayList<>();
            for (int step : tr.all()) {
                Tensor logits = lm.get("lm_head").output();
                seen.add(logits.select(1, logits.size(1) - 1));
                if (step == last) {
                    tr.stop();
                }
            }
            try {
                seen.add(lm.get("generator").output());
            } catch (NotReachedException e) {
                seen.add(e.getMessage());
            }
            return seen;
        };
    }

    private static void assertSameStoppedRun(List<?> solo, List<?> batched) {
        assertEquals(solo.size(), batched.size(), "what it saw: " + batched);
        for (int i = 0; i < solo.size(); i++) {
            if (solo.get(i) instanceof Tensor expected) {
                Tensor actual = (Tensor) batched.get(i);
                assertTrue(torch.allclose(expected, actual, 0, 1e-4, false), "logits " + i + " differ from solo ones by "
                        + expected.sub(actual).abs().max().item_double());
            } else {
                assertEquals(solo.get(i), batched.get(i));
            }
        }
    }

    @Test
    void aStop_endsItsGenerationAsAloneWithoutAnEviction_andTheOthersGoOn() {
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(8), 0, tokensAndLogits(lm)),
                new Planned(lm, prompt(5), Generation.maxNewTokens(8), 1, stoppingAtStep(2)),
                new Planned(lm, prompt(5), Generation.maxNewTokens(8), 1, tr -> {
                    Tensor hidden = lm.get("model.layers.0").output().clone();
                    tr.stop();
                    return hidden;
                }),
                new Planned(lm, prompt(7), Generation.maxNewTokens(8), 2, tr -> {
                    tr.stop();
                    return "stopped before the model ran";
                }),
                new Planned(lm, prompt(4), Generation.maxNewTokens(6), 3, tokensAndLogits(lm)));
        runContinuously(lm, planned);

        List<?> stopped = (List<?>) planned.get(1).result();
        assertSameStoppedRun((List<?>) planned.get(1).solo(), stopped);
        assertEquals(4, stopped.size(), "three steps' logits, then the tokens it never got");
        assertTrue(((String) stopped.get(3)).contains("tr.stop()"), (String) stopped.get(3));
        assertTrue(planned.get(1).finishedAtBoundary < planned.get(0).finishedAtBoundary, "it left at its stop");
        Tensor hidden = (Tensor) planned.get(2).result();
        assertTrue(torch.allclose((Tensor) planned.get(2).solo(), hidden, 0, 1e-4, false), "the hidden state alone");
        assertEquals("stopped before the model ran", planned.get(3).result());
        assertEquals(planned.get(3).joinAt + 1, planned.get(3).finishedAtBoundary, "it finished as it joined");
        assertSameGeneration(planned.get(0).solo(), planned.get(0).result(), 1e-4);
        assertSameGeneration(planned.get(4).solo(), planned.get(4).result(), 1e-4);
    }

    @Test
    void aReadOfTheCache_evicts_soNoGenerationSeesAnothersKeys() {
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(6), 0, tokensAndLogits(lm)),
                new Planned(lm, prompt(6), Generation.maxNewTokens(6), 1, tr -> {
                    for (int step : tr.all()) {
                        lm.get("model").inputs();
                    }
                    return null;
                }));
        runContinuously(lm, planned);
        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, planned.get(1).outcome).why().contains("KvCache"),
                planned.get(1).outcome.toString());
        assertSameGeneration(planned.get(0).solo(), planned.get(0).result(), 1e-4);
    }

    @Test
    void aReadOfALayersInput_sharesTheBatch_thoughTheLayersOtherInputsHoldTheCache() {
        TraceBody<List<Object>> residual = tr -> {
            List<Tensor> inputs = new ArrayList<>();
            for (int step : tr.all()) {
                inputs.add(lm.get("model.layers.1").input().clone());
            }
            return List.of(lm.get("generator").output(), inputs);
        };
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(6), 0, tokensAndLogits(lm)),
                new Planned(lm, prompt(4), Generation.maxNewTokens(5), 1, residual));
        runContinuously(lm, planned);
        assertSameGeneration(planned.get(1).solo(), planned.get(1).result(), 1e-4);
        assertSameGeneration(planned.get(0).solo(), planned.get(0).result(), 1e-4);
    }

    @Test
    void aCacheAndInvokes_seeTheirOwnRowsOfEveryStep() {
        TraceBody<List<Object>> caching = tr -> {
            Cache cache = tr.cache("model.layers.2");
            for (int step : tr.all()) {
                lm.get("lm_head").output();
            }
            List<Object> outputs = new ArrayList<>();
            for (Cache.Call call : cache.calls("model.layers.2")) {
                outputs.add(call.output());
            }
            return List.of(lm.get("generator").output(), outputs);
        };
        long[] first = prompt(5);
        long[] second = prompt(7);
        TraceBody<List<Object>> invokes = tr -> {
            Invoke<Tensor> a = tr.invoke(first, () -> lm.get("generator").output());
            Invoke<List<Object>> b = tr.invoke(second, () -> {
                List<Tensor> steps = new ArrayList<>();
                for (int step : tr.all()) {
                    Tensor logits = lm.get("lm_head").output();
                    steps.add(logits.select(1, logits.size(1) - 1));
                }
                return List.<Object>of(lm.get("generator").output(), steps);
            });
            Invoke<Long> rows = tr.invoke(() -> lm.get("model.layers.0").output().size(0));
            return List.of(a, b, rows);
        };
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(7), 0, tokensAndLogits(lm)),
                new Planned(lm, prompt(4), Generation.maxNewTokens(5), 1, caching),
                new Planned(lm, null, Generation.maxNewTokens(4), 2, invokes));
        runContinuously(lm, planned);
        assertSameGeneration(planned.get(0).solo(), planned.get(0).result(), 1e-4);
        @SuppressWarnings("unchecked")
        List<Object> cached = (List<Object>) planned.get(1).result();
        @SuppressWarnings("unchecked")
        List<Object> cachedAlone = (List<Object>) planned.get(1).solo();
        assertTrue(torch.equal((Tensor) cachedAlone.get(0), (Tensor) cached.get(0)), "the tokens of the run alone");
        List<?> outputs = (List<?>) cached.get(1);
        List<?> outputsAlone = (List<?>) cachedAlone.get(1);
        assertEquals(5, outputs.size(), "one call per own step");
        for (int i = 0; i < outputs.size(); i++) {
            Tensor e = (Tensor) outputsAlone.get(i);
            Tensor x = (Tensor) outputs.get(i);
            assertEquals(Arrays.toString(Tensors.shape(e)), Arrays.toString(Tensors.shape(x)), "its own rows, step " + i);
            assertTrue(torch.allclose(e, x, 0, 1e-4, false), "step " + i);
        }
        List<?> handles = (List<?>) planned.get(2).result();
        List<?> handlesAlone = (List<?>) planned.get(2).solo();
        assertTrue(torch.equal((Tensor) ((Invoke<?>) handlesAlone.get(0)).get(), (Tensor) ((Invoke<?>) handles.get(0)).get()));
        assertSameGeneration(((Invoke<?>) handlesAlone.get(1)).get(), ((Invoke<?>) handles.get(1)).get(), 1e-4);
        assertEquals(2L, ((Invoke<?>) handles.get(2)).get(), "the invoke without input sees its trace's 2 rows");
    }

    @Test
    void aFailingForwardPass_evictsEveryMemberRunning_andTheModelTracesAfter() {
        List<TraceBatch.Outcome> outcomes = new ArrayList<>();
        List<ContinuousBatch.Member> members = List.of(
                new ContinuousBatch.Member(new TraceJob<>(lm, prompt(5), tokensAndLogits(lm)), Generation.maxNewTokens(4),
                        BodyContext.NONE),
                new ContinuousBatch.Member(new TraceJob<>(lm, prompt(6), tr -> {
                    for (int step : tr.all()) {
                        lm.get("model.layers.1").output();
                    }
                    return null;
                }), Generation.maxNewTokens(4), BodyContext.NONE));
        boolean[] given = {false};
        ContinuousBatch.run(lm, control -> {
            List<ContinuousBatch.Lane> lanes = control.admit();
            control.forward(lanes, () -> {
                throw new IllegalStateException("the model failed"); // as a model refusing its input would
            });
        }, new ContinuousBatch.Feed() {
            @Override
            public List<ContinuousBatch.Member> admit(int running) {
                List<ContinuousBatch.Member> now = given[0] ? List.of() : members;
                given[0] = true;
                return now;
            }

            @Override
            public void finished(ContinuousBatch.Member member, TraceBatch.Outcome outcome) {
                outcomes.add(outcome);
            }
        }, 256);
        assertEquals(2, outcomes.size());
        for (TraceBatch.Outcome outcome : outcomes) {
            assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcome).why().contains("forward pass it shared failed"),
                    outcome.toString());
        }
        assertEquals(3, lm.trace(prompt(5), tr -> lm.get("lm_head").output()).dim(), "the model traces after the run");
    }

    @Test
    void anEpoch_admitsForItsStepsOnly_andControlRefusesOthersLanes() {
        List<Planned> planned = List.of(
                new Planned(lm, prompt(6), Generation.maxNewTokens(6), 0, tokensAndLogits(lm)),
                new Planned(lm, prompt(6), Generation.maxNewTokens(6), 3, tokensAndLogits(lm)));
        int[] admits = {0};
        List<TraceBatch.Outcome> outcomes = new ArrayList<>();
        ContinuousBatch.run(lm, lm.generationRunner().orElseThrow(), new ContinuousBatch.Feed() {
            @Override
            public List<ContinuousBatch.Member> admit(int running) {
                List<ContinuousBatch.Member> now = new ArrayList<>();
                for (Planned plan : planned) {
                    if (plan.joinAt == admits[0]) {
                        now.add(new ContinuousBatch.Member(new TraceJob<>(plan.model, plan.input, plan.body),
                                plan.generation, BodyContext.NONE));
                    }
                }
                admits[0]++;
                return now;
            }

            @Override
            public void finished(ContinuousBatch.Member member, TraceBatch.Outcome outcome) {
                outcomes.add(outcome);
            }
        }, 3);
        // boundary 0: the prompt's pass and a step (2 passes); boundary 1: a step (3); then no more admissions
        assertEquals(2, admits[0], "asked at the boundaries before its 3 passes only");
        assertEquals(1, outcomes.size(), "the later job was never admitted");
        assertSameGeneration(planned.get(0).solo(), assertInstanceOf(TraceBatch.Result.class, outcomes.get(0)).value(),
                1e-4);

        assertThrows(IllegalArgumentException.class, () -> ContinuousBatch.run(lm, control -> { }, new ContinuousBatch.Feed() {
            @Override
            public List<ContinuousBatch.Member> admit(int running) {
                return List.of();
            }

            @Override
            public void finished(ContinuousBatch.Member member, TraceBatch.Outcome outcome) {
            }
        }, 0));
        ContinuousBatch.Lane[] foreign = new ContinuousBatch.Lane[1];
        ContinuousBatch.run(lm, control -> {
            foreign[0] = new ContinuousBatch.Lane() {
                public io.nnsight.Inputs inputs() {
                    return null;
                }

                public Object options() {
                    return null;
                }

                public Object key() {
                    return null;
                }

                public int size() {
                    return 1;
                }

                public boolean hasEnded() {
                    return false;
                }
            };
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> control.forward(List.of(foreign[0]), () -> null));
            assertTrue(refused.getMessage().contains("not a lane of this run"), refused.getMessage());
        }, new ContinuousBatch.Feed() {
            @Override
            public List<ContinuousBatch.Member> admit(int running) {
                return List.of();
            }

            @Override
            public void finished(ContinuousBatch.Member member, TraceBatch.Outcome outcome) {
            }
        }, 4);
    }

    @Test
    void aTinyQwen2_joiningAndLeaving_givesItsSoloTokens() {
        LanguageModel qwen = FamilyReferenceTest.model("qwen2-tiny");
        long vocabulary = 100;
        List<Planned> planned = new ArrayList<>();
        int[][] plan = {{5, 7, 0}, {3, 3, 0}, {8, 5, 2}, {4, 6, 3}};
        for (int[] row : plan) {
            long[] ids = new long[row[0]];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 1 + RANDOM.nextInt((int) vocabulary);
            }
            planned.add(new Planned(qwen, ids, Generation.maxNewTokens(row[1]), row[2], tokensAndLogits(qwen)));
        }
        runContinuously(qwen, planned);
        for (Planned member : planned) {
            assertSameGeneration(member.solo(), member.result(), 1e-5);
        }
    }
}
