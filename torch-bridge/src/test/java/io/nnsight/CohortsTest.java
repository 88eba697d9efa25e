package io.nnsight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.internal.TensorInputs;
import io.nnsight.spi.BodyContext;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.TraceBatch;
import io.nnsight.spi.Traceable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Several traces of the benchmark MLP sharing one forward pass ({@link TraceBatch}): each gets what it gets alone,
 * fails alone, stops alone, is evicted alone, and sees only its rows. Runs under every engine of the module's test executions.
 */
class CohortsTest {
    /** The MLP's batching, with rows declared independent (the MLP mixes no rows), so traces may share a batch. */
    private static final Batchable INDEPENDENT_ROWS = new Batchable() {
        @Override
        public Prepared prepare(Object input) {
            return TensorInputs.INSTANCE.prepare(input);
        }

        @Override
        public Inputs combine(List<Prepared> rows) {
            return TensorInputs.INSTANCE.combine(rows);
        }

        @Override
        public Object cohortKey(List<Prepared> rows) {
            return "independent rows";
        }
    };

    private static NNsight model;
    private static Tensor a;
    private static Tensor b;
    private static Tensor c;

    @BeforeAll
    static void build() {
        model = NNsight.wrap(Models.mlp(), INDEPENDENT_ROWS);
        torch.manual_seed(1);
        a = torch.rand(2, 64);
        b = torch.rand(3, 64);
        c = torch.rand(1, 64);
    }

    @AfterEach
    void noBodyLeft() {
        Models.assertNoBodyThreads();
    }

    private static TraceBatch.Member member(NNsight wrapper, Object input, TraceBody<?> body) {
        return new TraceBatch.Member(new TraceJob<>(wrapper, input, body), BodyContext.NONE);
    }

    private static Object solo(TraceBatch.Member member) {
        return member.job().run();
    }

    private static Object result(TraceBatch.Outcome outcome) {
        return assertInstanceOf(TraceBatch.Result.class, outcome).value();
    }

    private static void assertClose(Object expected, Object actual) {
        if (expected instanceof List) {
            List<?> e = (List<?>) expected;
            List<?> x = (List<?>) actual;
            assertEquals(e.size(), x.size());
            for (int i = 0; i < e.size(); i++) {
                assertClose(e.get(i), x.get(i));
            }
        } else if (expected instanceof Tensor) {
            Tensor e = (Tensor) expected;
            Tensor x = (Tensor) actual;
            assertEquals(java.util.Arrays.toString(Tensors.shape(e)), java.util.Arrays.toString(Tensors.shape(x)));
            assertTrue(torch.allclose(e, x, 0, 1e-5, false), "batched differs from solo beyond 1e-5");
        } else {
            assertEquals(expected, actual);
        }
    }

    /** Reads a layer, zeroes another in place, and returns the head. */
    private static TraceBatch.Member reader(Tensor input) {
        return member(model, input, tr -> {
            Tensor hidden = model.get("layers.2").output().clone();
            model.get("layers.5").output().zero_();
            return List.of(hidden, model.get("head").output());
        });
    }

    /** No input: two invokes, and an invoke without input that doubles layer 8 for the trace's rows. */
    private static TraceBatch.Member setUp(Tensor first, Tensor second) {
        return member(model, null, tr -> {
            Invoke<Tensor> whole = tr.invoke(() -> {
                Tensor out = model.get("layers.8").output();
                model.get("layers.8").setOutput(out.mul(new org.bytedeco.pytorch.Scalar(2.0)));
                return torch.tensor(new long[] {out.size(0)});
            });
            Invoke<Tensor> one = tr.invoke(first, () -> model.get("head").output());
            Invoke<Tensor> two = tr.invoke(second, () -> model.get("layers.10").output());
            return List.of(whole, one, two);
        });
    }

    private static List<Object> values(Object setUpResult) {
        List<Object> values = new ArrayList<>();
        for (Object invoke : (List<?>) setUpResult) {
            values.add(((Invoke<?>) invoke).get());
        }
        return values;
    }

    @Test
    void eachCohort_getsWhatItGetsAlone() {
        List<TraceBatch.Member> members = List.of(reader(a), setUp(b, c), reader(c));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertClose(solo(members.get(0)), result(outcomes.get(0)));
        assertClose(values(solo(members.get(1))), values(result(outcomes.get(1))));
        assertClose(solo(members.get(2)), result(outcomes.get(2)));
        assertEquals(4L, ((Tensor) values(result(outcomes.get(1))).get(0)).item_long(), "the invoke without input sees "
                + "its trace's 4 rows, not the batch's 7");
    }

    @Test
    void throwingCohort_failsAloneAndTheOthersGetWhatTheyGetAlone() {
        IllegalStateException boom = new IllegalStateException("boom");
        TraceBatch.Member throwing = member(model, b, tr -> {
            model.get("layers.3").output().zero_();
            throw boom;
        });
        TraceBatch.Member outOfOrder = member(model, c, tr -> {
            model.get("layers.6").output();
            return model.get("layers.1").output();
        });
        TraceBatch.Member failingSetUp = member(model, null, tr -> {
            tr.invoke(a, () -> model.get("head").output());
            throw new IllegalArgumentException("set-up fails");
        });
        List<TraceBatch.Member> members = List.of(reader(a), throwing, outOfOrder, failingSetUp, setUp(a, b));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertClose(solo(members.get(0)), result(outcomes.get(0)));
        assertSame(boom, assertInstanceOf(TraceBatch.Failed.class, outcomes.get(1)).error());
        for (StackTraceElement frame : boom.getStackTrace()) {
            assertTrue(!frame.getClassName().startsWith("io.nnsight.internal."), "the engine's frames are removed, as "
                    + "from a trace's error alone: " + frame);
        }
        assertTrue(java.util.Arrays.stream(boom.getStackTrace()).anyMatch(frame -> frame.getMethodName().equals(
                "throwingCohort_failsAloneAndTheOthersGetWhatTheyGetAlone")), "the caller's frames are appended");
        assertInstanceOf(OutOfOrderException.class, assertInstanceOf(TraceBatch.Failed.class, outcomes.get(2)).error());
        assertEquals("set-up fails", assertInstanceOf(TraceBatch.Failed.class, outcomes.get(3)).error().getMessage());
        assertClose(values(solo(members.get(4))), values(result(outcomes.get(4))));
    }

    @Test
    void skipAndBackward_evictTheCallerWithoutDisturbingTheOthers() {
        List<String> after = Collections.synchronizedList(new ArrayList<>());
        TraceBatch.Member skipping = member(model, c, tr -> {
            model.get("layers.4").skip(torch.zeros(1, 64));
            after.add("skip returned");
            return null;
        });
        TraceBatch.Member backward = member(model, a, tr -> {
            Tensor out = model.get("layers.7").output();
            return tr.backward(model.get("head").output().sum(), () -> {
                after.add("backward ran");
                return model.get("layers.7").grad();
            });
        });
        List<TraceBatch.Member> members = List.of(reader(a), setUp(c, b), skipping, backward, reader(b));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertClose(solo(members.get(0)), result(outcomes.get(0)));
        assertClose(values(solo(members.get(1))), values(result(outcomes.get(1))));
        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(2)).why().contains("skips"));
        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(3)).why().contains("backward"));
        assertClose(solo(members.get(4)), result(outcomes.get(4)));
        assertEquals(List.of(), after, "no evicting call returned");
    }

    @Test
    void stoppingCohort_endsAsAlone_withoutEviction_andTheOthersGetWhatTheyGetAlone() {
        List<String> after = Collections.synchronizedList(new ArrayList<>());
        TraceBatch.Member stopping = member(model, b, tr -> {
            Tensor hidden = model.get("layers.1").output();
            hidden.zero_();
            tr.stop();
            after.add("stop returned");
            return hidden.clone();
        });
        TraceBatch.Member stoppingInvoke = member(model, null, tr -> {
            Invoke<Tensor> first = tr.invoke(a, () -> {
                Tensor hidden = model.get("layers.3").output().clone();
                tr.stop();
                return hidden;
            });
            Invoke<String> second = tr.invoke(c, () -> {
                try {
                    return "read " + model.get("head").output().size(0);
                } catch (NotReachedException e) {
                    return e.getMessage();
                }
            });
            return List.of(first, second);
        });
        TraceBatch.Member stopThenRead = member(model, c, tr -> {
            model.get("layers.1").output();
            tr.stop();
            return model.get("layers.2").output();
        });
        List<TraceBatch.Member> members = List.of(reader(a), stopping, stoppingInvoke, stopThenRead, reader(b));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertEquals(List.of("stop returned"), after, "the stopping body ran on until it handed control back");
        assertClose(solo(members.get(0)), result(outcomes.get(0)));
        assertClose(solo(stopping), result(outcomes.get(1)));
        List<Object> stoppedInvokes = values(result(outcomes.get(2)));
        assertClose(values(solo(stoppingInvoke)), stoppedInvokes);
        assertTrue(((String) stoppedInvokes.get(1)).contains("tr.stop() ended the run before that"),
                "the trace's other invoke was answered as alone: " + stoppedInvokes.get(1));
        NotReachedException alone = assertThrows(NotReachedException.class,
                () -> solo(stopThenRead));
        Throwable batched = assertInstanceOf(TraceBatch.Failed.class, outcomes.get(3)).error();
        assertEquals(alone.getClass(), batched.getClass());
        assertEquals(alone.getMessage(), batched.getMessage());
        assertClose(solo(members.get(4)), result(outcomes.get(4)));
    }

    @Test
    void everyCohortStoppingBeforeTheModel_runsNoModule() {
        AtomicInteger firstLayerCalls = new AtomicInteger();
        TraceBody<String> early = tr -> {
            tr.stop();
            return "stopped";
        };
        List<TraceBatch.Outcome> outcomes;
        HookPoint firstLayer = ((Traceable) model.get("layers.0").module()).hookPoint();
        try (HookPoint.Registration counter = firstLayer.add((inputs, proceed) -> {
            firstLayerCalls.incrementAndGet();
            return proceed.apply(inputs);
        })) {
            outcomes = TraceBatch.run(model, List.of(member(model, a, early), member(model, b, early)));
        }

        assertEquals(0, firstLayerCalls.get(), "the model did not run");
        assertEquals("stopped", result(outcomes.get(0)));
        assertEquals("stopped", result(outcomes.get(1)));
    }

    @Test
    void evictedBody_thatCatchesThrowable_cannotActAfterwards() {
        TraceBatch.Member stubborn = member(model, b, tr -> {
            try {
                model.get("layers.4").skip(torch.zeros(3, 64));
            } catch (Throwable evicted) {
                // ignored on purpose
            }
            try {
                model.get("head").setOutput(torch.zeros(3, 10));
            } catch (Throwable cancelled) {
                // ignored on purpose
            }
            return "acted";
        });
        List<TraceBatch.Member> members = List.of(reader(a), stubborn, reader(c));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(1));
        assertClose(solo(members.get(0)), result(outcomes.get(0)));
        assertClose(solo(members.get(2)), result(outcomes.get(2)));
    }

    @Test
    void edits_seeOnlyTheirCohortsRows() {
        List<Long> rowsSeen = Collections.synchronizedList(new ArrayList<>());
        NNsight edited = model.edit(tr -> {
            Tensor out = model.get("layers.0").output();
            rowsSeen.add(out.size(0));
            out.zero_();
            return null;
        });
        TraceBatch.Member plain = member(model, a, tr -> model.get("head").output());
        TraceBatch.Member withEdit = member(edited, b, tr -> model.get("head").output());
        TraceBatch.Member withEditSetUp = member(edited, null, tr -> List.of(
                tr.invoke(c, () -> model.get("head").output()), tr.invoke(a, () -> model.get("layers.0").output())));
        List<TraceBatch.Member> members = List.of(plain, withEdit, withEditSetUp);

        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);
        assertEquals(List.of(3L, 3L), rowsSeen, "each edit sees its own trace's rows");

        assertClose(solo(members.get(0)), result(outcomes.get(0)));
        assertClose(solo(members.get(1)), result(outcomes.get(1)));
        assertClose(values(solo(members.get(2))), values(result(outcomes.get(2))));
        assertTrue(torch.equal(torch.zeros(2, 64), (Tensor) values(result(outcomes.get(2))).get(1)));
    }

    @Test
    void bodyContext_isEnteredAndLeftAroundEveryResumption() {
        ThreadLocal<String> current = new ThreadLocal<>();
        AtomicInteger entered = new AtomicInteger();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        List<List<String>> events = new ArrayList<>();
        List<BodyEngine> engines = Collections.synchronizedList(new ArrayList<>());
        List<TraceBatch.Member> members = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            String id = "job " + k;
            List<String> own = Collections.synchronizedList(new ArrayList<>());
            events.add(own);
            BodyContext context = new BodyContext() {
                @Override
                public Object enter() {
                    if (entered.getAndIncrement() != 0) {
                        problems.add(id + " entered inside another context");
                    }
                    own.add("enter");
                    String previous = current.get();
                    current.set(id);
                    return previous;
                }

                @Override
                public void leave(Object previous) {
                    entered.decrementAndGet();
                    own.add("leave");
                    current.set((String) previous);
                }
            };
            Tensor input = k == 1 ? null : k == 0 ? a : b;
            TraceBody<?> body = input != null
                    ? tr -> {
                        engines.add(tr.engine());
                        List<Tensor> seen = new ArrayList<>();
                        for (int layer = 0; layer < 12; layer += 3) {
                            seen.add(model.get("layers." + layer).output());
                            if (!id.equals(current.get())) {
                                problems.add(id + " ran in " + current.get() + "'s context");
                            }
                        }
                        return seen.size();
                    }
                    : tr -> {
                        if (!id.equals(current.get())) {
                            problems.add(id + "'s set-up ran in " + current.get() + "'s context");
                        }
                        return List.of(tr.invoke(c, () -> {
                            model.get("layers.4").output();
                            boolean mine = id.equals(current.get());
                            model.get("head").output();
                            return mine && id.equals(current.get());
                        }), tr.invoke(() -> {
                            model.get("layers.1").output();
                            return id.equals(current.get());
                        }));
                    };
            members.add(new TraceBatch.Member(new TraceJob<>(model, input, body), context));
        }
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertEquals(4, result(outcomes.get(0)));
        assertEquals(List.of(true, true), values(result(outcomes.get(1))));
        assertEquals(List.of(), problems);
        assertEquals(List.of(BodyEngine.configured(), BodyEngine.configured()), engines, "the bodies ran on the "
                + "configured engine");
        assertEquals(0, entered.get());
        assertEquals(null, current.get());
        for (List<String> own : events) {
            assertTrue(own.size() >= 4, "entered at set-up and at each resumption: " + own);
            for (int i = 0; i < own.size(); i++) {
                assertEquals(i % 2 == 0 ? "enter" : "leave", own.get(i), "enter and leave alternate: " + own);
            }
        }
    }

    /** {@code noted(scale(x))}: each child gets an argument not split by rows (a factor, a note). */
    static final class SharedArguments extends io.nnsight.nn.HookedModule implements io.nnsight.nn.TensorModule {
        final Scale scale = register("scale", new Scale());
        final Noted noted = register("noted", new Noted());

        @Override
        public Tensor forward(Tensor input) {
            return hooked(input, x -> noted.forward(Inputs.of(scale.forward(Inputs.of(x).with("factor",
                    torch.full(new long[] {4}, new org.bytedeco.pytorch.Scalar(2.0))))).with("note",
                    new StringBuilder("shared"))));
        }
    }

    static final class Scale extends io.nnsight.nn.HookedModule {
        Tensor forward(Inputs inputs) {
            return (Tensor) hooked(inputs, in -> in.tensor(0).mul(in.tensor("factor")));
        }
    }

    static final class Noted extends io.nnsight.nn.HookedModule {
        Tensor forward(Inputs inputs) {
            return (Tensor) hooked(inputs, in -> in.tensor(0).add(new org.bytedeco.pytorch.Scalar(1.0)));
        }
    }

    @Test
    void valuesNotSplitByRows_evictWhoReadsAnObjectOrReplacesASharedTensor() {
        NNsight shared = NNsight.wrap(new SharedArguments(), INDEPENDENT_ROWS);
        Tensor x = torch.rand(2, 4);
        Tensor y = torch.rand(3, 4);
        TraceBatch.Member plain = member(shared, x, tr -> shared.get("noted").output());
        TraceBatch.Member readsNote = member(shared, y, tr -> shared.get("noted").inputs().get("note"));
        TraceBatch.Member scales = member(shared, y, tr -> {
            Inputs in = shared.get("scale").inputs();
            shared.get("scale").setInputs(Inputs.of(in.get(0)).with("factor", in.tensor("factor").mul(
                    new org.bytedeco.pytorch.Scalar(3.0))));
            return shared.get("noted").output();
        });
        TraceBatch.Member readsFactor = member(shared, x, tr -> shared.get("scale").inputs().tensor("factor"));
        List<TraceBatch.Member> members = List.of(plain, readsNote, scales, readsFactor);
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(shared, members);

        assertClose(solo(plain), result(outcomes.get(0)));
        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(1)).why().contains("StringBuilder"));
        assertTrue(assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(2)).why().contains("not split by rows"));
        assertClose(solo(readsFactor), result(outcomes.get(3)));
        assertEquals("shared", solo(readsNote).toString(), "alone, the trace reads the note");
        assertClose(torch.full(new long[] {3, 4}, new org.bytedeco.pytorch.Scalar(6.0)).mul(y).add(
                new org.bytedeco.pytorch.Scalar(1.0)), solo(scales));
    }

    /** {@code fold(x)}: the rows of {@code x} folded into the first dimension, 4 per row. */
    static final class Folding extends io.nnsight.nn.HookedModule implements io.nnsight.nn.TensorModule {
        final Fold fold = register("fold", new Fold());

        @Override
        public Tensor forward(Tensor input) {
            return hooked(input, x -> fold.forward(x).reshape(x.size(0), -1));
        }
    }

    static final class Fold extends io.nnsight.nn.HookedModule implements io.nnsight.nn.TensorModule {
        @Override
        public Tensor forward(Tensor input) {
            return hooked(input, x -> x.reshape(-1, 16));
        }
    }

    @Test
    void readingRowsFoldedIntoTheFirstDimension_evictsTheReader_theOthersGetWhatTheyGetAlone() {
        NNsight folding = NNsight.wrap(new Folding(), INDEPENDENT_ROWS);
        Tensor x = torch.rand(2, 64);
        Tensor y = torch.rand(3, 64);
        TraceBatch.Member plain = member(folding, x, tr -> folding.get("fold").input().clone());
        TraceBatch.Member readsFolded = member(folding, y, tr -> folding.get("fold").output().clone());
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(folding, List.of(plain, readsFolded));

        assertClose(solo(plain), result(outcomes.get(0)));
        String why = assertInstanceOf(TraceBatch.Evicted.class, outcomes.get(1)).why();
        assertTrue(why.contains("[20, 16]") && why.contains("5 rows"), why);
        assertClose(y.reshape(-1, 16), solo(readsFolded));
    }

    /** Two invokes meeting at a barrier, the second reading the first's result. */
    private static TraceBatch.Member meeting(Tensor first, Tensor second, boolean secondThrows) {
        return member(model, null, tr -> {
            Barrier barrier = tr.barrier(2);
            Invoke<Tensor> one = tr.invoke(first, () -> {
                Tensor hidden = model.get("layers.3").output();
                barrier.await();
                return hidden.clone();
            });
            Invoke<Tensor> two = tr.invoke(second, () -> {
                if (secondThrows) {
                    model.get("layers.2").output();
                    throw new IllegalStateException("before the barrier");
                }
                model.get("layers.3").output();
                barrier.await();
                Tensor firsts = one.get();
                return model.get("head").output().add(firsts.sum());
            });
            return List.of(one, two);
        });
    }

    @Test
    void barriersAndResults_workInsideACohort_andACohortFailingAtOne_endsAlone() {
        List<TraceBatch.Member> members = List.of(meeting(a, b, false), meeting(c, a, true), reader(b),
                meeting(b, c, false));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertClose(values(solo(members.get(0))), values(result(outcomes.get(0))));
        assertEquals("before the barrier", assertInstanceOf(TraceBatch.Failed.class, outcomes.get(1)).error()
                .getMessage());
        assertClose(solo(members.get(2)), result(outcomes.get(2)));
        assertClose(values(solo(members.get(3))), values(result(outcomes.get(3))));
    }

    @Test
    void everyCohortFailing_failsEachAlone() {
        List<TraceBatch.Member> members = List.of(meeting(c, a, true), member(model, b, tr -> {
            model.get("layers.1").output();
            throw new IllegalArgumentException("second");
        }));
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertEquals("before the barrier", assertInstanceOf(TraceBatch.Failed.class, outcomes.get(0)).error()
                .getMessage());
        assertEquals("second", assertInstanceOf(TraceBatch.Failed.class, outcomes.get(1)).error().getMessage());
        assertClose(solo(reader(a)), model.trace(a, tr -> {
            Tensor hidden = model.get("layers.2").output().clone();
            model.get("layers.5").output().zero_();
            return List.of(hidden, model.get("head").output());
        }));
    }

    @Test
    void jobOfAnotherModel_isRefused() {
        NNsight other = NNsight.wrap(Models.mlp(), INDEPENDENT_ROWS);
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> TraceBatch.run(model, List.of(reader(a), member(other, b, tr -> other.get("head").output()))));
        assertTrue(refused.getMessage().contains("job 1"), refused.getMessage());
    }

    @Test
    void noInputCohort_withoutAnyInputInvoke_failsAlone() {
        TraceBatch.Member empty = member(model, null, tr -> tr.invoke(() -> model.get("head").output()));
        List<TraceBatch.Member> members = List.of(reader(a), empty);
        List<TraceBatch.Outcome> outcomes = TraceBatch.run(model, members);

        assertClose(solo(members.get(0)), result(outcomes.get(0)));
        assertInstanceOf(TraceException.class, assertInstanceOf(TraceBatch.Failed.class, outcomes.get(1)).error());
    }
}
