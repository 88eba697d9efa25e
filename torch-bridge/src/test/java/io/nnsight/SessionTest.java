package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.GenerateJob;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Sessions, and jobs run through {@link NNsight#execute}: what a backend calls. */
class SessionTest extends TinyModelFixture {
    @Test
    void session_passesValuesFromOneTraceToTheNext() {
        Tensor other = torch.ones(1, 5);

        Tensor patched = model.session(() -> {
            Tensor clean = model.trace(input, tr -> model.get("layer1").output());
            return model.trace(other, tr -> {
                model.get("layer1").setOutput(clean);
                return model.get("layer2").output();
            });
        });

        assertTrue(same(net.forward(input), patched));
    }

    @Test
    void session_freesItsTracesResults_butKeepsItsOwn() {
        List<Tensor> inner = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            model.session(() -> model.trace(input, tr -> model.get("layer2").output()));
        }
        Tensor expected = net.forward(input);
        long before = Pointer.totalCount();

        Tensor result = model.session(() -> {
            for (int i = 0; i < 50; i++) {
                inner.add(model.trace(input, tr -> model.get("layer1").output()));
            }
            return model.trace(input, tr -> model.get("layer2").output());
        });

        assertTrue(inner.get(0).isNull(), "a trace's result inside a session is freed when the session ends");
        assertFalse(result.isNull());
        assertTrue(same(expected, result));
        result.close();
        assertTrue(Pointer.totalCount() <= before + 1, "native objects grew from " + before + " to "
                + Pointer.totalCount());
    }

    @Test
    void save_inASessionsTrace_outlivesTheSession() {
        List<Tensor> seen = new ArrayList<>();

        model.session(() -> {
            model.trace(input, tr -> seen.add(NNsight.save(model.get("layer1").output())));
            Tensor doubled = NNsight.save(model.trace(input, tr -> model.get("layer2").output()).mul(new Scalar(2.0)));
            seen.add(doubled);
            return null;
        });

        assertFalse(seen.get(0).isNull(), "a value saved in a session's trace is kept after the session");
        assertFalse(seen.get(1).isNull(), "a value saved by the session's body is kept after the session");
        Tensor hidden = model.trace(input, tr -> model.get("layer1").output());
        assertTrue(same(hidden, seen.get(0)));
        assertTrue(same(net.forward(input).mul(new Scalar(2.0)), seen.get(1)));
    }

    @Test
    void session_thatThrows_leavesTheModelUsable() {
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> model.session(() -> {
            model.trace(input, tr -> model.get("layer1").output());
            throw new IllegalStateException("stop here");
        }));

        assertEquals("stop here", error.getMessage());
        assertTrue(same(net.forward(input), model.trace(input, tr -> model.get("layer2").output())));
    }

    @Test
    void jobs_runAsTheirMethodsWould() {
        Tensor traced = new TraceJob<>(model, input, tr -> model.get("layer2").output()).run();
        Tensor session = new SessionJob<>(model, () -> model.trace(input, tr -> model.get("layer2").output())).run();

        assertTrue(same(net.forward(input), traced));
        assertTrue(same(net.forward(input), session));
    }

    @Test
    void generateJob_generates() {
        LanguageModel lm = Shared.stories();

        Tensor viaJob = new GenerateJob<>(lm, "Once upon a time", Generation.maxNewTokens(3),
                tr -> lm.generator().output()).run();

        assertTrue(same(lm.generate("Once upon a time", Generation.maxNewTokens(3), tr -> lm.generator().output()),
                viaJob));
        assertEquals("stories260K", lm.key());
    }

    @Test
    void on_aBackend_runsEachEntryPointThereOnTheLocalWrapper() {
        List<Job<?>> seen = new ArrayList<>();
        Backend here = new Backend() {
            @Override
            public <R> R run(Job<R> job) {
                seen.add(job);
                return job.run();
            }
        };
        NNsight remote = model.on(here);

        Tensor output = remote.trace(input, tr -> model.get("layer2").output());
        Tensor fromSession = remote.session(() -> model.trace(input, tr -> model.get("layer2").output()));

        assertTrue(same(net.forward(input), output));
        assertTrue(same(net.forward(input), fromSession));
        assertEquals(2, seen.size());
        assertTrue(seen.get(0) instanceof TraceJob && seen.get(1) instanceof SessionJob, seen.toString());
        assertSame(model, seen.get(0).model(), "a job runs on the wrapper that runs here, not on the view");
        assertSame(here, remote.backend());
        assertNull(model.backend());
        assertSame(model, remote.local());
        assertNull(remote.on(null).backend());
    }

    @Test
    void on_aLanguageModel_keepsItsType_andGeneratesThere() {
        LanguageModel lm = Shared.stories();
        List<Job<?>> seen = new ArrayList<>();
        Backend here = new Backend() {
            @Override
            public <R> R run(Job<R> job) {
                seen.add(job);
                return job.run();
            }
        };

        LanguageModel remote = lm.on(here);
        Tensor ids = remote.generate("Once upon a time", Generation.maxNewTokens(2), tr -> lm.generator().output());

        assertTrue(same(lm.generate("Once upon a time", Generation.maxNewTokens(2), tr -> lm.generator().output()), ids));
        assertTrue(seen.get(0) instanceof GenerateJob, seen.toString());
        assertSame(lm, seen.get(0).model());
    }
}
