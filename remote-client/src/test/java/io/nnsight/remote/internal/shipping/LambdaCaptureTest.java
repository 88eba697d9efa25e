package io.nnsight.remote.internal.shipping;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Envoy;
import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.Tracer;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.wire.ClassPlan;
import io.nnsight.remote.internal.wire.Envelope;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.MethodNode;

/**
 * Bodies and what they capture, shipped by value through {@link Remote#local()}: captured locals, helper
 * objects, method references, lambdas made inside the body, static fields (shipped by value) and enums of
 * the application's own code, and what the shipment holds ({@link ClassPlan}).
 */
class LambdaCaptureTest {
    private static final String PROMPT = Shared.STORIES_PROMPT;

    private static LanguageModel lm;
    /** Not a compile-time constant: the body reads the field, so its value ships with the job. */
    private static final List<String> PROBED = List.of("model.layers.1", "model.layers.3");
    /** Set after the class is initialized: the value that ships is the current one. */
    private static double scale;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        scale = 0.5;
    }

    private static Tensor lastLogits() {
        return lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
    }

    private static Tensor layerOutput(int layer) {
        return lm.trace(PROMPT, tr -> lm.get("model.layers." + layer).output().select(1, -1));
    }

    private static void assertClose(Tensor expected, Tensor actual) {
        assertTrue(torch.allclose(expected, actual, 0, 1e-5, false),
                "max difference " + expected.sub(actual).abs().max().item_double());
    }

    // ---- helpers of the application: shipped whole ----

    /** A helper the body captures: its class ships whole, its fields by value. */
    static final class Scaler implements Serializable {
        private final double factor;
        private final String site;

        Scaler(double factor, String site) {
            this.factor = factor;
            this.site = site;
        }

        Tensor apply(LanguageModel model) {
            return model.get(site).output().select(1, -1).mul(new Scalar(factor));
        }
    }

    /** A probe whose method is the body, through a bound method reference. */
    static final class LogitsProbe {
        private final LanguageModel model;
        private final int position;

        LogitsProbe(LanguageModel model, int position) {
            this.model = model;
            this.position = position;
        }

        Tensor run(Tracer tracer) {
            return model.get("lm_head").output().select(1, position);
        }
    }

    enum Site {
        MLP("mlp"), ATTENTION("self_attn") {
            @Override
            String describe() {
                return "attention";
            }
        };

        private final String name;

        Site(String name) {
            this.name = name;
        }

        String path(int layer) {
            return "model.layers." + layer + "." + name;
        }

        String describe() {
            return name;
        }
    }

    record Window(int layer, int from, int length) {}

    /** How many tokens a {@link Span} covers: set by the test before the enum is first used. */
    static final class SpanWidth {
        static int tokens;
    }

    /** An enum whose constants are made from another class's static field, by its initializer (which ships). */
    enum Span {
        LAST_FEW;

        final int from = -SpanWidth.tokens;
    }

    /** The body of a static method reference: reads the model from a static field, shipped by value. */
    static Tensor lastLogitsOf(Tracer tracer) {
        return lm.get("lm_head").output().select(1, -1);
    }

    private static int siteCode(Site site) {
        switch (site) {
            case MLP:
                return 1;
            case ATTENTION:
                return 2;
            default:
                return 0;
        }
    }

    // ---- captured values ----

    @Test
    void capturedLocals_ofManyTypes_reachTheBody() {
        int layer = 2;
        String head = "lm_head";
        long[] positions = {0, -1};
        double bias = 0.25;
        Tensor offset = torch.full(new long[] {1}, new Scalar(3.0));
        LanguageModel model = lm;
        List<Tensor> simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            List<Tensor> values = new ArrayList<>();
            values.add(model.get("model.layers." + layer).output().select(1, positions[1]).add(new Scalar(bias)));
            values.add(model.get(head).output().select(1, positions[0]).add(offset));
            return values;
        });

        assertClose(layerOutput(2).add(new Scalar(0.25)), simulated.get(0));
        Tensor first = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, 0));
        assertClose(first.add(new Scalar(3.0)), simulated.get(1));
    }

    @Test
    void capturedHelperObject_shipsWithItsClassAndFields() {
        Scaler scaler = new Scaler(2.0, "model.layers.4");

        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> scaler.apply(lm));

        assertClose(layerOutput(4).mul(new Scalar(2.0)), simulated);
    }

    @Test
    void staticMethodReference_isTheBody() {
        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, LambdaCaptureTest::lastLogitsOf);

        assertClose(lastLogits(), simulated);
    }

    @Test
    void boundMethodReference_capturesItsObject() {
        LogitsProbe probe = new LogitsProbe(lm, -1);

        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, probe::run);

        assertClose(lastLogits(), simulated);
    }

    @Test
    void lambdasMadeInsideTheBody_run() {
        List<Tensor> simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            UnaryOperator<Tensor> last = t -> t.select(1, -1);
            Function<Integer, Tensor> layer = i -> last.apply(lm.get("model.layers." + i).output());
            return IntStream.range(0, 3).mapToObj(layer::apply).collect(Collectors.toList());
        });

        for (int i = 0; i < 3; i++) {
            assertClose(layerOutput(i), simulated.get(i));
        }
    }

    @Test
    void capturedSerializableLambda_isShippedAndRuns() {
        TraceBody<Tensor> inner = tr -> lm.get("lm_head").output();
        Function<Tensor, Tensor> last = (Function<Tensor, Tensor> & Serializable) t -> t.select(1, -1);

        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> last.apply(inner.run(tr)));

        assertClose(lastLogits(), simulated);
    }

    @Test
    void capturedLambdaThatIsNotSerializable_isRefusedBeforeSending_sayingWhy() {
        Function<Tensor, Tensor> last = t -> t.select(1, -1);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> lm.on(Remote.local()).trace(PROMPT, tr -> last.apply(lm.get("lm_head").output())));

        assertTrue(error.getMessage().contains("java.util.function.Function cannot be shipped"), error.getMessage());
        assertTrue(error.getMessage().contains("Serializable"), error.getMessage());
    }

    @Test
    void staticFieldsOfTheTestClass_travelByValue_withTheirCurrentValues() {
        List<Tensor> simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            List<Tensor> values = new ArrayList<>();
            for (String path : PROBED) {
                values.add(lm.get(path).output().select(1, -1).mul(new Scalar(scale)));
            }
            return values;
        });

        assertEquals(2, simulated.size());
        assertClose(layerOutput(1).mul(new Scalar(0.5)), simulated.get(0));
        assertClose(layerOutput(3).mul(new Scalar(0.5)), simulated.get(1));
    }

    @Test
    void enumOfTheTestCode_capturedAndSwitchedOn_behavesAsLocally() {
        Site site = Site.ATTENTION;
        Set<Site> sites = new TreeSet<>(Set.of(Site.MLP, Site.ATTENTION));

        Map<String, Object> simulated = lm.on(Remote.local()).trace(PROMPT, tr -> Map.of(
                "output", lm.get(site.path(2)).output().select(1, -1),
                "describe", site.describe() + "/" + Site.MLP.describe(),
                "code", siteCode(site) * 10 + siteCode(Site.MLP),
                "ordinals", sites.stream().map(Site::ordinal).collect(Collectors.toList()),
                "site", site));

        Tensor local = lm.trace(PROMPT, tr -> lm.get("model.layers.2.self_attn").output().select(1, -1));
        assertClose(local, (Tensor) simulated.get("output"));
        assertEquals("attention/mlp", simulated.get("describe"));
        assertEquals(21, simulated.get("code"));
        assertEquals(List.of(0, 1), simulated.get("ordinals"));
        assertEquals(Site.ATTENTION, simulated.get("site"), "the result's enum is the caller's constant");
    }

    @Test
    void capturedEnumMadeFromAnotherClassesStaticField_seesTheValueTheFieldHadWhenShipped() {
        SpanWidth.tokens = 3;
        Span span = Span.LAST_FEW;

        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            Tensor logits = lm.get("lm_head").output();
            return logits.narrow(1, logits.size(1) + span.from, -span.from);
        });

        Tensor local = lm.trace(PROMPT, tr -> lm.get("lm_head").output());
        assertClose(local.narrow(1, local.size(1) - 3, 3), simulated);
    }

    /** A layer a {@link Probe} reads: set by the test before the enum is first used. */
    static final class ProbedLayer {
        static int index;
    }

    /** An enum with a static field of its own, whose constants are made from another class's static field. */
    enum Probe {
        OUTPUT;

        static double scale;
        final String path = "model.layers." + ProbedLayer.index;
    }

    @Test
    void enumWithAStaticFieldOfItsOwn_travelsWithItsValue_andIsMadeAfterTheOtherClassesFieldsAreSet() {
        Probe.scale = 2.0;
        ProbedLayer.index = 3;

        Tensor simulated = lm.on(Remote.local()).trace(PROMPT,
                tr -> lm.get(Probe.OUTPUT.path).output().select(1, -1).mul(new Scalar(Probe.scale)));

        assertClose(layerOutput(3).mul(new Scalar(2.0)), simulated);
    }

    @Test
    void capturedRecord_andEnvoys_reachTheBody() {
        Window window = new Window(3, 2, 4);
        List<Envoy> layers = lm.get("model.layers").children(); // an unmodifiable view
        Envoy mlp = lm.get("model.layers.3.mlp");

        List<Tensor> simulated = lm.on(Remote.local()).trace(PROMPT, tr -> {
            Tensor inner = mlp.output().select(1, -1); // inside layer 3: read before the layer's output
            return List.of(layers.get(window.layer()).output().narrow(1, window.from(), window.length()), inner);
        });

        Tensor local = lm.trace(PROMPT, tr -> lm.get("model.layers.3").output().narrow(1, 2, 4));
        assertClose(local, simulated.get(0));
        assertClose(lm.trace(PROMPT, tr -> lm.get("model.layers.3.mlp").output().select(1, -1)), simulated.get(1));
    }

    @Test
    void tokenizerOfTheModel_capturedInTheBody_isTheHostedOnes() {
        io.nnsight.lm.Tokenizer tokenizer = lm.tokenizer();

        long[] ids = lm.on(Remote.local()).trace(PROMPT, tr -> tokenizer.encode("Lily"));

        assertEquals(java.util.Arrays.toString(lm.tokenizer().encode("Lily")), java.util.Arrays.toString(ids));
    }

    /** A helper that reaches its behaviour through a superclass of the application and a default method. */
    interface Reads {
        String site();

        default Tensor read(LanguageModel model) {
            return model.get(site()).output().select(1, -1);
        }
    }

    abstract static class Site2 implements Reads {
        abstract int layer();

        @Override
        public String site() {
            return "model.layers." + layer();
        }
    }

    static final class SecondLayer extends Site2 {
        @Override
        int layer() {
            return 2;
        }
    }

    @Test
    void helperWithASuperclassAndADefaultMethod_shipsItsHierarchy() {
        Reads reads = new SecondLayer();

        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> reads.read(lm));

        assertClose(layerOutput(2), simulated);
    }

    /** A body that is a class of its own, not a lambda. */
    static TraceBody<Tensor> anonymousBody(int layer) {
        return new TraceBody<>() {
            @Override
            public Tensor run(Tracer tracer) {
                return lm.get("model.layers." + layer).output().select(1, -1);
            }
        };
    }

    @Test
    void anonymousClassBody_shipsAsAClass_withWhatItCaptured() {
        // Kryo skipped the synthetic field val$layer: the server read layer 0, silently
        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, anonymousBody(3));

        assertClose(layerOutput(3), simulated);
    }

    /** Made in a static method: in a test method, an anonymous class would capture the test instance too. */
    static TraceBody<Object> savingBody(List<Tensor> seen) {
        return new TraceBody<>() {
            @Override
            public Object run(Tracer tracer) {
                seen.add(io.nnsight.NNsight.save(lm.get("lm_head").output().select(1, -1)));
                return null;
            }
        };
    }

    @Test
    void anonymousClassBody_fillsTheListItCaptured() {
        List<Tensor> seen = new ArrayList<>();

        lm.on(Remote.local()).trace(PROMPT, savingBody(seen));

        assertEquals(1, seen.size());
        assertClose(lastLogits(), seen.get(0));
    }

    /** Bodies made by an interface's methods: the lambdas' code lives in the interface. */
    interface Probes {
        static TraceBody<Tensor> layer(int index) {
            return tr -> lm.get("model.layers." + index).output().select(1, -1);
        }

        default TraceBody<Tensor> last() {
            return tr -> lm.get("lm_head").output().select(1, -1);
        }
    }

    @Test
    void bodiesMadeInAnInterface_run() {
        Tensor layer = lm.on(Remote.local()).trace(PROMPT, Probes.layer(1));
        Tensor last = lm.on(Remote.local()).trace(PROMPT, new Probes() {}.last());

        assertClose(layerOutput(1), layer);
        assertClose(lastLogits(), last);
    }

    @Test
    void capturedMethodReferenceToALibraryMethod_isRefusedBeforeSending_sayingWhatToWriteInstead() {
        // a server can only make a lambda in a shipped class it has checked; it used to fail on the server
        Function<Tensor, Tensor> abs = (Function<Tensor, Tensor> & Serializable) Tensor::abs;

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> lm.on(Remote.local()).trace(PROMPT, tr -> abs.apply(lm.get("lm_head").output().select(1, -1))));

        assertTrue(error.getMessage().contains("org.bytedeco.pytorch.Tensor::abs cannot be shipped"), error.getMessage());
        assertTrue(error.getMessage().contains("x -> x.abs(...)"), error.getMessage());
    }

    @Test
    void capturedLambdaCallingALibraryMethod_runs() {
        Function<Tensor, Tensor> abs = (Function<Tensor, Tensor> & Serializable) t -> t.abs();

        Tensor simulated = lm.on(Remote.local()).trace(PROMPT, tr -> abs.apply(lm.get("lm_head").output().select(1, -1)));

        assertClose(lastLogits().abs(), simulated);
    }

    // ---- what the shipment holds ----

    private static ClassNode shipped(Envelope envelope, Class<?> type) {
        byte[] classFile = envelope.classes().get(type.getName());
        assertTrue(classFile != null, type.getName() + " ships; shipped: " + envelope.classes().keySet());
        ClassNode node = new ClassNode();
        new ClassReader(classFile).accept(node, 0);
        return node;
    }

    private static Set<String> methods(ClassNode node) {
        Set<String> names = new TreeSet<>();
        for (MethodNode method : node.methods) {
            names.add(method.name);
        }
        return names;
    }

    @Test
    void testClass_shipsSlicedToWhatTheBodyReaches_andHelpersShipWhole() {
        Scaler scaler = new Scaler(1.0, "lm_head");
        TraceBody<Tensor> body = tr -> scaler.apply(lm).mul(new Scalar(scale));

        Envelope envelope = Shipment.of(new TraceJob<>(lm, PROMPT, body)).envelope();

        ClassNode test = shipped(envelope, LambdaCaptureTest.class);
        Set<String> testMethods = methods(test);
        assertEquals(1, testMethods.size(), "only the body's implementation: " + testMethods);
        assertTrue(testMethods.iterator().next().startsWith("lambda$"), testMethods.toString());
        assertTrue(test.fields.stream().anyMatch(field -> field.name.equals("scale")), "the static field it reads");
        assertFalse(test.fields.stream().anyMatch(field -> field.name.equals("PROBED")), "a static field it does not");
        assertTrue(methods(shipped(envelope, Scaler.class)).containsAll(Set.of("<init>", "apply")));
        assertFalse(envelope.classes().keySet().stream().anyMatch(name -> name.startsWith("org.junit")));
        assertEquals(1, envelope.lambdas().size());
        assertEquals("io/nnsight/TraceBody", envelope.lambdas().get(0).functionalInterface());
    }

    @Test
    void jobsShippedTwice_giveTheSameEnvelope() {
        int layer = 1;
        TraceBody<Tensor> body = tr -> lm.get("model.layers." + layer).output();

        byte[] first = Shipment.of(new TraceJob<>(lm, PROMPT, body)).envelope().write();
        byte[] second = Shipment.of(new TraceJob<>(lm, PROMPT, body)).envelope().write();

        assertTrue(java.util.Arrays.equals(first, second));
    }

    @Test
    void bodyCapturingTheTestInstance_isRefused_namingWhatTheServerLacks() {
        RemoteException error = assertThrows(RemoteException.class,
                () -> lm.on(Remote.local()).trace(PROMPT, tr -> instanceLayer()));

        assertTrue(error.getMessage().contains("org.junit"), error.getMessage());
    }

    private Tensor instanceLayer() {
        return lm.get("model.layers.0").output();
    }
}
