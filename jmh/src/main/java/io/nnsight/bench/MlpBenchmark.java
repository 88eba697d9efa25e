package io.nnsight.bench;

import io.nnsight.Envoy;
import io.nnsight.NNsight;
import io.nnsight.nn.Mlp;
import io.nnsight.spi.HookPoint;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * nnsight's published overhead benchmark, on the JVM: a 12-layer MLP (12 x (Linear(64, 64), ReLU), then
 * Linear(64, 10)), input randn(1, 64), float32, one intra-op thread, autograd off. Each operation is one
 * whole forward pass or trace, and the baselines run in the same JMH run as the traces, so overheads are
 * differences of figures measured together.
 *
 * <ul>
 *   <li>{@code bare}: the model's forward, never wrapped.
 *   <li>{@code bareWrapped}: the forward of a wrapped model outside any trace (its hooks are idle).
 *   <li>{@code bareHooks}: the forward with 12 plain {@link io.nnsight.spi.ModuleHook}s keeping the
 *       blocks' outputs (the counterpart of 12 PyTorch forward hooks).
 *   <li>{@code trace}: a trace that returns the outputs of {@code layers.0} .. {@code layers.N-1}; {@code
 *       saves = 0} is the empty trace.
 * </ul>
 *
 * Each operation runs in its own {@link PointerScope}, so every variant frees what it made.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.vm=ALL-UNNAMED", "-Xmx1g"})
public class MlpBenchmark {

    /**
     * A wrapped model; {@code saves} is how many block outputs a trace reads (0 is the empty trace). Each
     * parameter combination runs in its own JVM, so the engine is chosen before the first trace.
     */
    @State(Scope.Thread)
    public abstract static class TracedModel {
        @Param({"0", "1", "4", "8", "12"})
        public int saves;

        NNsight wrapped;
        Tensor input;
        Envoy[] blocks;

        void prepare(String engine) {
            Engines.use(engine);
            torch.manual_seed(0);
            Mlp mlp = new Mlp(64, 12, 10);
            wrapped = NNsight.wrap(mlp);
            input = torch.randn(1, 64);
            blocks = new Envoy[saves];
            for (int i = 0; i < saves; i++) {
                blocks[i] = wrapped.get("layers." + i);
            }
            GradMode.set_enabled(false);
        }

        /** One trace that returns the outputs of the first {@code saves} blocks. */
        Object trace() {
            try (PointerScope scope = new PointerScope()) {
                Envoy[] reads = blocks;
                return wrapped.trace(input, tr -> {
                    List<Tensor> outputs = new ArrayList<>(reads.length);
                    for (Envoy block : reads) {
                        outputs.add(block.output());
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

        @Setup(Level.Trial)
        public void setUp() {
            prepare(engine);
        }
    }

    /** The model, never wrapped, so that its modules carry no hook at all. */
    @State(Scope.Thread)
    public static class Unwrapped {
        Mlp mlp;
        Tensor input;

        @Setup(Level.Trial)
        public void setUp() {
            torch.manual_seed(0);
            mlp = new Mlp(64, 12, 10);
            input = torch.randn(1, 64);
            GradMode.set_enabled(false);
        }
    }

    /** The model, wrapped but not traced: its hooks are idle. */
    @State(Scope.Thread)
    public static class Wrapped extends Unwrapped {
        NNsight wrapped;

        @Override
        @Setup(Level.Trial)
        public void setUp() {
            super.setUp();
            wrapped = NNsight.wrap(mlp);
        }
    }

    /** The unwrapped model with 12 plain hooks that keep the blocks' outputs. */
    @State(Scope.Thread)
    public static class Hooked {
        Mlp mlp;
        Tensor input;
        final Object[] kept = new Object[12];
        final List<HookPoint.Registration> registrations = new ArrayList<>();

        @Setup(Level.Trial)
        public void setUp() {
            torch.manual_seed(0);
            mlp = new Mlp(64, 12, 10);
            input = torch.randn(1, 64);
            for (int i = 0; i < 12; i++) {
                int block = i;
                registrations.add(mlp.layers().get(i).hookPoint().add((inputs, proceed) -> {
                    Object output = proceed.apply(inputs);
                    kept[block] = output;
                    return output;
                }));
            }
            GradMode.set_enabled(false);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            registrations.forEach(HookPoint.Registration::close);
        }
    }

    @Benchmark
    public Object bare(Unwrapped model) {
        try (PointerScope scope = new PointerScope()) {
            return model.mlp.forward(model.input);
        }
    }

    @Benchmark
    public Object bareWrapped(Wrapped model) {
        try (PointerScope scope = new PointerScope()) {
            return model.mlp.forward(model.input);
        }
    }

    @Benchmark
    public Object bareHooks(Hooked model) {
        try (PointerScope scope = new PointerScope()) {
            Tensor output = model.mlp.forward(model.input);
            return model.kept[11] == null ? null : output;
        }
    }

    @Benchmark
    public Object trace(Traced model) {
        return model.trace();
    }
}
