package io.nnsight;

import static io.nnsight.Models.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    void execute_runsEachKindOfJobAsTheMethodWould() {
        Tensor traced = model.execute(Job.trace(model, input, tr -> model.get("layer2").output()));
        Tensor session = model.execute(Job.session(model, () -> model.trace(input, tr -> model.get("layer2").output())));

        assertTrue(same(net.forward(input), traced));
        assertTrue(same(net.forward(input), session));
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> model.execute(Job.generate(model, input, Generation.maxNewTokens(1), tr -> null)));
        assertTrue(error.getMessage().contains("language model"), error.getMessage());
    }

    @Test
    void execute_generates_onALanguageModel() {
        LanguageModel lm = LanguageModel.load(Shared.path("models/stories260K").toString());

        Tensor viaJob = lm.execute(Job.generate(lm, "Once upon a time", Generation.maxNewTokens(3),
                tr -> lm.generator().output()));

        assertTrue(same(lm.generate("Once upon a time", Generation.maxNewTokens(3), tr -> lm.generator().output()),
                viaJob));
        assertEquals("stories260K", lm.key());
    }

    @Test
    void trace_withABackend_runsTheJobThere() {
        List<Job<?>> seen = new ArrayList<>();
        Backend here = new Backend() {
            @Override
            public <R> R run(Job<R> job) {
                seen.add(job);
                return job.model().execute(job);
            }
        };

        Tensor output = model.trace(input, here, tr -> model.get("layer2").output());

        assertTrue(same(net.forward(input), output));
        assertEquals(Job.Kind.TRACE, seen.get(0).kind());
        assertEquals("Sequential", model.key());
    }
}
