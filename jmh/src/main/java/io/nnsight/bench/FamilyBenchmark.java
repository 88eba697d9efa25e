package io.nnsight.bench;

import io.nnsight.Envoy;
import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.ModulePaths;
import java.nio.file.Path;
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
 * Each family's tiny model ({@code ../shared/fixtures/<arch>-tiny}: 3 layers, hidden 32, vocabulary 512) on the
 * 21-token prompt of its reference, in the type it loads in by default (float32; bfloat16 for {@code
 * llama3-bf16-tiny}): the bare forward, and a trace reading 5 values (the embedding, the 3 layers and the final
 * norm, by the family's {@link ModulePaths}) with continuations. Autograd off, one thread. {@code
 * jmh/python/hf_forward.py} measures transformers' forward of the same models, the anchor.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.vm=ALL-UNNAMED",
    "-Xmx1g"})
public class FamilyBenchmark {
    static final String PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play";

    /** A family's model, the prompt's tokens and the five modules a trace reads. */
    @State(Scope.Thread)
    public static class Model {
        /** A fixture of {@code ../shared}, or the absolute path of a model folder ({@code jmh/python/derived_models.py}). */
        @Param({"pythia-tiny", "qwen2-tiny", "qwen3-tiny", "mistral-tiny", "gemma2-tiny", "phi3-tiny", "llama3-bf16-tiny"})
        public String fixture;

        LanguageModel lm;
        Inputs prompt;
        Envoy[] reads;

        @Setup(Level.Trial)
        public void setUp() {
            Engines.use("continuations");
            Path folder = Path.of(fixture).isAbsolute() ? Path.of(fixture) : Shared.path("fixtures/" + fixture);
            lm = LanguageModel.load(folder.toString());
            Tensor tokens = torch.tensor(lm.tokenizer().encode(PROMPT)).unsqueeze(0);
            prompt = Inputs.of().with("input_ids", tokens).with("attention_mask", torch.ones_like(tokens));
            ModulePaths paths = lm.paths();
            List<Envoy> envoys = new ArrayList<>(List.of(lm.get(paths.embedding())));
            for (int i = 0; i < lm.layerCount(); i++) {
                envoys.add(lm.get(paths.layer(i)));
            }
            envoys.add(lm.get(paths.finalNorm()));
            reads = envoys.toArray(new Envoy[0]);
            GradMode.set_enabled(false);
        }
    }


    @Benchmark
    public Object bare(Model model) {
        try (PointerScope scope = new PointerScope()) {
            return ((CausalLM) model.lm.module()).forward(model.prompt);
        }
    }

    @Benchmark
    public Object trace5(Model model) {
        try (PointerScope scope = new PointerScope()) {
            Envoy[] reads = model.reads;
            return model.lm.trace(model.prompt, tr -> {
                List<Tensor> outputs = new ArrayList<>(reads.length);
                for (Envoy envoy : reads) {
                    outputs.add(envoy.output());
                }
                return outputs;
            });
        }
    }
}
