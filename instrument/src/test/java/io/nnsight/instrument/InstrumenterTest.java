package io.nnsight.instrument;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.models.Doubled;
import io.nnsight.models.PlainNet;
import io.nnsight.models.Stack;
import io.nnsight.spi.AgentExempt;
import io.nnsight.spi.CapturedClasses;
import io.nnsight.spi.Traceable;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * The transforms on their own: installed in this JVM by self-attach when the test session opens ({@link
 * InstallBeforeTests}), applied to plain Bytedeco models ({@code io.nnsight.models}).
 */
class InstrumenterTest {
    @Test
    void plainModule_becomesTraceable_withItsFieldsAsChildren() {
        PlainNet net = new PlainNet();

        assertInstanceOf(Traceable.class, net);
        assertEquals(List.of("fc1", "fc2"), List.copyOf(((Traceable) net).namedChildren().keySet()));
        assertTrue(((Traceable) net).namedChildren().get("fc1") == net.fc1);
    }

    @Test
    void nativeChildrenCalls_areReadableAndReplaceable() {
        PlainNet net = new PlainNet();
        NNsight model = NNsight.wrap(net);
        Tensor x = torch.rand(1, 5);

        Tensor hidden = model.trace(x, tr -> model.get("fc1").output());
        Tensor replaced = model.trace(x, tr -> {
            model.get("fc1").setOutput(torch.zeros(1, 10));
            return model.output();
        });

        assertTrue(torch.allclose(net.fc1.forward(x), hidden));
        assertTrue(torch.allclose(net.fc2.forward(torch.zeros(1, 10)), replaced));
        assertTrue(torch.allclose(net.forward(x), model.trace(x, tr -> model.output())));
    }

    @Test
    void nativeModuleList_ofPlainBlocks_andMethodReferences() {
        Stack stack = new Stack();
        NNsight model = NNsight.wrap(stack);
        Tensor x = torch.rand(2, 4);

        List<Tensor> outputs = model.trace(x, tr -> List.of(model.get("layers.1.fc").output(), model.get("layers.2").output()));

        Tensor expected = stack.blocks.get(0).forward(x);
        assertTrue(torch.allclose(stack.blocks.get(1).fc.forward(expected), outputs.get(0)));
        assertTrue(torch.allclose(stack.forward(x), outputs.get(1)));
    }

    @Test
    void superForward_isOneCall() {
        Doubled doubled = new Doubled();
        NNsight model = NNsight.wrap(doubled);
        Tensor x = torch.rand(1, 5);

        List<Tensor> outputs = model.trace(x, tr -> {
            List<Tensor> calls = new ArrayList<>();
            for (int step : tr.all()) {
                calls.add(model.output());
            }
            return calls;
        });

        assertEquals(1, outputs.size());
        assertTrue(torch.allclose(doubled.forward(x), outputs.get(0)));
    }

    @Test
    void outsideTraces_theModelRunsAsWritten() {
        PlainNet net = new PlainNet();
        NNsight.wrap(net);
        Tensor x = torch.rand(3, 5);

        Tensor expected = torch.linear(torch.relu(torch.linear(x, net.fc1.weight(), new org.bytedeco.pytorch.TensorOptional(net.fc1.bias()))),
                net.fc2.weight(), new org.bytedeco.pytorch.TensorOptional(net.fc2.bias()));
        assertTrue(torch.allclose(expected, net.forward(x)));
    }

    @Test
    void applicationClasses_areCaptured_unchanged_butNotLibraryOrJdkClasses() {
        byte[] plain = CapturedClasses.of(PlainNet.class).orElseThrow();

        assertEquals(0xCAFEBABE, java.nio.ByteBuffer.wrap(plain).getInt());
        assertTrue(!new String(plain, java.nio.charset.StandardCharsets.ISO_8859_1).contains("nnsight$hookPoint"),
                "the captured bytes are the instrumented ones");
        assertTrue(CapturedClasses.of(InstrumenterTest.class).isPresent());
        assertTrue(CapturedClasses.of(String.class).isEmpty());
        assertTrue(CapturedClasses.of(Tensor.class).isEmpty());
    }

    @Test
    void classesOfAnExemptLoader_areNeitherTransformedNorCaptured() throws Exception {
        byte[] classFile;
        try (var in = PlainNet.class.getResourceAsStream("PlainNet.class")) {
            classFile = in.readAllBytes();
        }
        ClassLoader exempt = new ExemptLoader(PlainNet.class.getName(), classFile, getClass().getClassLoader());

        Class<?> copy = Class.forName(PlainNet.class.getName(), false, exempt);

        assertTrue(copy != PlainNet.class && copy.getClassLoader() == exempt);
        assertTrue(!Traceable.class.isAssignableFrom(copy), "a class of an exempt loader was made traceable");
        assertTrue(CapturedClasses.of(copy).isEmpty(), "a class of an exempt loader was captured");
    }

    /** Defines one class itself, child-first, and asks the agent to leave it alone. */
    private static final class ExemptLoader extends ClassLoader implements AgentExempt {
        private final String name;
        private final byte[] classFile;

        ExemptLoader(String name, byte[] classFile, ClassLoader parent) {
            super(parent);
            this.name = name;
            this.classFile = classFile;
        }

        @Override
        protected Class<?> loadClass(String className, boolean resolve) throws ClassNotFoundException {
            if (!className.equals(name)) {
                return super.loadClass(className, resolve);
            }
            synchronized (getClassLoadingLock(className)) {
                Class<?> type = findLoadedClass(className);
                return type != null ? type : defineClass(className, classFile, 0, classFile.length);
            }
        }
    }
}
