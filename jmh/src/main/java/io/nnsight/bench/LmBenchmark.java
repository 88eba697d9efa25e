package io.nnsight.bench;

import io.nnsight.Envoy;
import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * stories260K (a 5-layer Llama, {@code ../shared/models/stories260K}) on the 16-token prompt of its
 * reference: the bare forward (the model's own forward, outside traces), traces reading 0, 1 and 5 layer
 * outputs, a trace caching every module's output, and a 20-token greedy generation (tokens per second = 20 /
 * time). Autograd off, one thread.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.vm=ALL-UNNAMED", "-Xmx1g"})
public class LmBenchmark {
    static final String PROMPT = "Once upon a time, there was a little girl named Lily.";

    /** The model and the prompt's tokens. */
    @State(Scope.Thread)
    public static class Model {
        LanguageModel lm;
        Inputs prompt;

        @Setup(Level.Trial)
        public void setUp() {
            lm = LanguageModel.load(Shared.path("models/stories260K").toString());
            long[] ids = lm.tokenizer().encode(PROMPT);
            Tensor tokens = torch.tensor(ids).unsqueeze(0);
            prompt = Inputs.of().with("input_ids", tokens).with("attention_mask", torch.ones_like(tokens));
            GradMode.set_enabled(false);
        }
    }

    /** The model and the layers a trace reads: {@code saves} of them (0 is the empty trace). */
    @State(Scope.Thread)
    public abstract static class TracedModel extends Model {
        @Param({"0", "1", "5"})
        public int saves;

        Envoy[] layers;

        void prepare(String engine) {
            Engines.use(engine);
            super.setUp();
            layers = new Envoy[saves];
            for (int i = 0; i < saves; i++) {
                layers[i] = lm.get("model.layers." + i);
            }
        }

        /** One trace that returns the outputs of the first {@code saves} layers. */
        Object trace() {
            try (PointerScope scope = new PointerScope()) {
                Envoy[] reads = layers;
                return lm.trace(prompt, tr -> {
                    List<Tensor> outputs = new ArrayList<>(reads.length);
                    for (Envoy layer : reads) {
                        outputs.add(layer.output());
                    }
                    return outputs;
                });
            }
        }
    }

    /** {@link TracedModel} with the body run by threads or by JDK continuations. */
    @State(Scope.Thread)
    public static class Traced extends TracedModel {
        @Param({"threads", "continuations"})
        public String engine;

        @Override
        @Setup(Level.Trial)
        public void setUp() {
            prepare(engine);
        }
    }


    @Benchmark
    public Object bare(Model model) {
        try (PointerScope scope = new PointerScope()) {
            return ((CausalLM) model.lm.module()).forward(model.prompt);
        }
    }

    @Benchmark
    public Object trace(Traced model) {
        return model.trace();
    }

    /** A trace that records every module's output (52 modules, copied) and returns the cache: {@code tr.cache()}. */
    @Benchmark
    public Object fullCache(Model model) {
        try (PointerScope scope = new PointerScope()) {
            return model.lm.trace(model.prompt, tr -> tr.cache());
        }
    }

    @Benchmark
    @Measurement(iterations = 5, time = 4)
    public Object generate20(Model model) {
        try (PointerScope scope = new PointerScope()) {
            return model.lm.generate(model.prompt, Generation.maxNewTokens(20).stopAtEos(false)).tokens();
        }
    }
}
