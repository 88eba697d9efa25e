package io.nnsight.bench;

import io.nnsight.lm.CausalLM;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
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
 * {@link LmBenchmark}'s scenarios in JVMs started with the nnsight agent (see {@link MlpAgentBenchmark}): the
 * bare forward, whose module classes the agent gave operation call sites, and traces with the body on JDK
 * continuations or compiled into a state machine. Run from the project folder.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-javaagent:agent/target/nnsight-agent.jar",
        "-Dnnsight.engine=statemachine", "-Xmx1g"})
public class LmAgentBenchmark {
    /** The traced model, its body run by the engine of this fork. */
    @State(Scope.Thread)
    public static class WithAgent extends LmBenchmark.TracedModel {
        @Param({"continuations", "statemachine"})
        public String engine;

        @Override
        @Setup(Level.Trial)
        public void setUp() {
            prepare(engine);
        }
    }

    @Benchmark
    public Object bare(LmBenchmark.Model model) {
        try (PointerScope scope = new PointerScope()) {
            return ((CausalLM) model.lm.module()).forward(model.prompt);
        }
    }

    @Benchmark
    public Object trace(WithAgent model) {
        return model.trace();
    }
}
