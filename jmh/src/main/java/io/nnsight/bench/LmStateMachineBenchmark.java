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
 * {@link LmBenchmark}'s traces with the body compiled into a state machine by the agent, in forks that start
 * with the agent and {@code -Dnnsight.engine=statemachine} (see {@link MlpStateMachineBenchmark}). Run from
 * the project folder.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-javaagent:agent/target/nnsight-agent.jar",
        "-Dnnsight.engine=statemachine", "-Xmx1g"})
public class LmStateMachineBenchmark {
    /** The traced model, its body compiled into a state machine. */
    @State(Scope.Thread)
    public static class Compiled extends LmBenchmark.TracedModel {
        @Param("statemachine")
        public String engine;

        @Override
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
