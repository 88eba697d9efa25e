package io.nnsight.bench;

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
 * {@link MlpBenchmark}'s scenarios in JVMs started with the nnsight agent, as users run it: the bare forward,
 * and traces with the body on JDK continuations (the agent's default) or compiled into a state machine. The agent and
 * {@code -Dnnsight.engine=statemachine} must be there when the JVM starts, since the agent compiles bodies as
 * their classes load; the {@code continuations} forks then pick that engine at run time, and compiled bodies
 * run their original code. One fork per engine, in the same JMH run as {@link MlpBenchmark}. Run from the
 * project folder: the forks find the agent at {@code agent/target/nnsight-agent.jar}.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-javaagent:agent/target/nnsight-agent.jar",
        "-Dnnsight.engine=statemachine", "-Xmx1g"})
public class MlpAgentBenchmark {
    /** The traced model, its body run by the engine of this fork. */
    @State(Scope.Thread)
    public static class WithAgent extends MlpBenchmark.TracedModel {
        @Param({"continuations", "statemachine"})
        public String engine;

        @Setup(Level.Trial)
        public void setUp() {
            prepare(engine);
        }
    }

    @Benchmark
    public Object bare(MlpBenchmark.Unwrapped model) {
        try (PointerScope scope = new PointerScope()) {
            return model.mlp.forward(model.input);
        }
    }

    @Benchmark
    public Object trace(WithAgent model) {
        return model.trace();
    }
}
