package io.nnsight.bench;

import java.util.concurrent.TimeUnit;
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
 * {@link MlpBenchmark}'s traces with the body compiled into a state machine by the agent: the agent and
 * {@code -Dnnsight.engine=statemachine} must be there when the JVM starts, since the agent compiles bodies as
 * their classes load, so these run in forks of their own, in the same JMH run as {@link MlpBenchmark}'s bare
 * forward. Run from the project folder: the fork finds the agent at {@code agent/target/nnsight-agent.jar}.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-javaagent:agent/target/nnsight-agent.jar",
        "-Dnnsight.engine=statemachine", "-Xmx1g"})
public class MlpStateMachineBenchmark {
    /** The traced model, its body compiled into a state machine. */
    @State(Scope.Thread)
    public static class Compiled extends MlpBenchmark.TracedModel {
        @Param("statemachine")
        public String engine;

        @Setup(Level.Trial)
        public void setUp() {
            prepare(engine);
        }
    }

    @Benchmark
    public Object trace(Compiled model) {
        return model.trace();
    }
}
