package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.TraceBody;
import io.nnsight.nn.Linear;
import io.nnsight.remote.internal.allowlist.ServerClasses;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.LambdaSpec;
import io.nnsight.remote.internal.wire.Packing;
import io.nnsight.remote.internal.wire.ValueGraphs;
import java.lang.invoke.MethodHandleInfo;
import java.lang.reflect.Field;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.IntToLongFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The lambdas a server makes from a request ({@link LambdaFactories}): plain classes made when the code is checked,
 * defined by each job's own class loader, converting arguments and results as the JDK's lambdas do, and written
 * back to the client as the lambdas they came from.
 */
class LambdaFactoriesTest {
    private static NNsight model;

    @BeforeAll
    static void wrap() {
        model = NNsight.wrap(new Linear(4, 4));
    }

    private static Sandbox sandbox() {
        return new Sandbox(new ServerClasses(Sandbox.class.getClassLoader()), 16, 16L << 20, 0);
    }

    /** Shipped code whose methods are the lambdas' implementations. */
    static final class Probe {
        final int base;

        Probe(int base) {
            this.base = base;
        }

        Probe(io.nnsight.Tracer tracer) {
            this(5);
        }

        int plus(io.nnsight.Tracer tracer) {
            return base + 1;
        }

        static int answer(io.nnsight.Tracer tracer) {
            return 42;
        }

        static long twice(long value) {
            return 2 * value;
        }

        static int narrow(int value) {
            return value;
        }
    }

    /** Bodies of every kind of lambda a client makes, each with what it returns here. */
    private static Map<TraceBody<?>, Object> bodies() {
        long count = 3;
        double scale = 0.5;
        Probe probe = new Probe(10);
        TraceBody<Integer> boxed = Probe::answer;
        TraceBody<Integer> bound = probe::plus;
        TraceBody<Probe> constructed = Probe::new;
        TraceBody<Double> wide = tracer -> count * scale;
        return Map.of(boxed, 42, bound, 11, constructed, 5, wide, 1.5);
    }

    private static Object result(Object body) {
        Object result = ((TraceBody<?>) body).run(null);
        return result != null && result.getClass().getName().equals(Probe.class.getName()) ? base(result) : result;
    }

    /** The base of a {@code Probe}, the client's or one of a job's class loader. */
    private static Object base(Object probe) {
        try {
            Field base = probe.getClass().getDeclaredField("base");
            base.setAccessible(true);
            return base.get(probe);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void create_lambdasOfEveryKind_runAsTheClientsDo_inClassesOfTheJobsOwnLoader() {
        Sandbox sandbox = sandbox();
        for (Map.Entry<TraceBody<?>, Object> body : bodies().entrySet()) {
            Envelope envelope = Packing.pack("TRACE", model, new Object[] {body.getKey()},
                    LambdaFactoriesTest.class.getClassLoader());
            ShippedCode first = ShippedCode.load(sandbox, envelope);
            ShippedCode second = ShippedCode.load(sandbox, envelope);
            Object made = first.values(model, 1, "[body]")[0];
            Object again = second.values(model, 1, "[body]")[0];

            assertEquals(body.getValue(), result(body.getKey()), "on the client");
            assertEquals(body.getValue(), result(made), "on the server");
            assertSame(first.loader(), made.getClass().getClassLoader());
            assertFalse(made.getClass().isHidden());
            assertNotSame(made.getClass(), again.getClass(), "each job defines the lambda's class anew");
            assertTrue(LambdaFactory.isMadeLambda(made.getClass()));
        }
    }

    @Test
    void origin_ofAServerMadeLambda_writesItBackAsTheClientsLambda() {
        long count = 3;
        double scale = 0.5;
        TraceBody<Double> body = tracer -> count * scale;
        Envelope envelope = Packing.pack("TRACE", model, new Object[] {body},
                LambdaFactoriesTest.class.getClassLoader());
        ShippedCode code = ShippedCode.load(sandbox(), envelope);
        Object made = code.values(model, 1, "[body]")[0];

        byte[] written = ValueGraphs.write(new Object[] {made}, code.loader(), model, code.lambdas());
        Object back = ((Object[]) ValueGraphs.read(written, LambdaFactoriesTest.class.getClassLoader(), model,
                LambdaFactory.DESERIALIZE_LAMBDA))[0];

        assertSame(LambdaFactoriesTest.class, back.getClass().getNestHost());
        assertEquals(1.5, ((TraceBody<?>) back).run(null));
    }

    @Test
    void create_primitiveArguments_areUnboxedAndWidenedAsTheJdkDoes() throws ReflectiveOperationException {
        String probe = Probe.class.getName().replace('.', '/');
        LambdaSpec widened = new LambdaSpec(probe, "java/util/function/IntToLongFunction", "applyAsLong", "(I)J",
                MethodHandleInfo.REF_invokeStatic, probe, "twice", "(J)J", "(I)J", 0);
        LambdaSpec unboxed = new LambdaSpec(probe, "java/util/function/Function", "apply",
                "(Ljava/lang/Object;)Ljava/lang/Object;", MethodHandleInfo.REF_invokeStatic, probe, "twice", "(J)J",
                "(Ljava/lang/Integer;)Ljava/lang/Long;", 0);
        Map<String, byte[]> classes = ClassFiles.of(Probe.class);
        LambdaFactories lambdas = LambdaFactories.of(List.of(widened, unboxed), classes.keySet());
        JobClassLoader loader = new JobClassLoader(sandbox().prepare(classes, lambdas).classes(),
                Sandbox.class.getClassLoader());

        IntToLongFunction twiceOfInt = (IntToLongFunction) lambdas.create(widened, new Object[0], loader);
        @SuppressWarnings("unchecked")
        Function<Object, Object> twiceOfInteger =
                (Function<Object, Object>) lambdas.create(unboxed, new Object[0], loader);

        assertEquals(42L, twiceOfInt.applyAsLong(21));
        assertEquals(42L, twiceOfInteger.apply(21));
        assertThrows(ClassCastException.class, () -> twiceOfInteger.apply("21"));
    }

    @Test
    void prepare_lambdaThatWouldNarrow_isRefused() {
        String probe = Probe.class.getName().replace('.', '/');
        LambdaSpec narrowing = new LambdaSpec(probe, "java/util/function/LongUnaryOperator", "applyAsLong", "(J)J",
                MethodHandleInfo.REF_invokeStatic, probe, "narrow", "(I)I", "(J)J", 0);
        Map<String, byte[]> classes = ClassFiles.of(Probe.class);

        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox().prepare(classes,
                LambdaFactories.of(List.of(narrowing), classes.keySet())));

        assertTrue(refused.getMessage().contains("cannot take or give a long as a int"), refused.getMessage());
    }

    @Test
    void of_shippedClassWithTheNameOfALambdasClass_isRefused() {
        String probe = Probe.class.getName().replace('.', '/');
        LambdaSpec spec = new LambdaSpec(probe, "java/util/function/IntToLongFunction", "applyAsLong", "(I)J",
                MethodHandleInfo.REF_invokeStatic, probe, "twice", "(J)J", "(I)J", 0);

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> LambdaFactories.of(
                List.of(spec), Set.of(Probe.class.getName(), Probe.class.getName() + "$$NnsightLambda$0")));

        assertTrue(refused.getMessage().contains("rename that class"), refused.getMessage());
    }
}
