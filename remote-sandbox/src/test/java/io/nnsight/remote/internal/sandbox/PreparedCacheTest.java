package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.TraceBody;
import io.nnsight.nn.Linear;
import io.nnsight.remote.internal.allowlist.ServerClasses;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.LambdaSpec;
import io.nnsight.remote.internal.wire.Packing;
import java.lang.invoke.MethodHandleInfo;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cache of checked code in {@link Sandbox#prepare} ({@link PreparedCache}), with classes and lambdas packed as a
 * client packs a job: the same code again is not checked again, code that differs in one byte or in one lambda spec
 * is, a refusal stays a refusal, every job still gets classes and statics of its own, and the bounds hold.
 */
class PreparedCacheTest {
    private static NNsight model;

    @BeforeAll
    static void wrap() {
        model = NNsight.wrap(new Linear(4, 4));
    }

    /** A fresh sandbox over nnsight's classes, with a cache of its own. */
    private static Sandbox sandbox(int entries, long bytes) {
        return new Sandbox(new ServerClasses(Sandbox.class.getClassLoader()), entries, bytes, 0);
    }

    private static Sandbox sandbox() {
        return sandbox(256, 64L << 20);
    }

    /** Shipped code with a static field and a lambda that changes it. */
    static final class Tally {
        static int count = 41;

        private Tally() {}

        static TraceBody<Integer> bump() {
            return tr -> ++count;
        }
    }

    /** A shipped value. */
    static final class Mark {
        final String text;

        Mark(String text) {
            this.text = text;
        }
    }

    /** Shipped code that calls an allowed JDK method, {@code System.nanoTime}. */
    static final class Clock {
        private Clock() {}

        static long now() {
            return System.nanoTime();
        }
    }

    /** The job a client would send to run {@code Tally.bump()}'s body. */
    private static Envelope tallyJob() {
        return Packing.pack("TRACE", model, new Object[] {Tally.bump()}, PreparedCacheTest.class.getClassLoader());
    }

    private static LambdaFactories lambdas(Envelope envelope) {
        return LambdaFactories.of(envelope.lambdas(), envelope.classes().keySet());
    }

    /** {@code classes} with the first occurrence of {@code from} in the class file of {@code name} replaced. */
    private static Map<String, byte[]> patched(Map<String, byte[]> classes, String name, String from, String to) {
        byte[] bytes = classes.get(name).clone();
        byte[] search = from.getBytes(StandardCharsets.UTF_8);
        byte[] replacement = to.getBytes(StandardCharsets.UTF_8);
        assertEquals(search.length, replacement.length, "a patch keeps the class file's layout");
        int at = indexOf(bytes, search);
        assertTrue(at >= 0, name + " has " + from);
        System.arraycopy(replacement, 0, bytes, at, replacement.length);
        Map<String, byte[]> copy = new LinkedHashMap<>(classes);
        copy.put(name, bytes);
        return copy;
    }

    private static int indexOf(byte[] bytes, byte[] search) {
        outer:
        for (int i = 0; i + search.length <= bytes.length; i++) {
            for (int j = 0; j < search.length; j++) {
                if (bytes[i + j] != search[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void prepare_sameCodeAgain_isNotCheckedAgain() {
        Sandbox sandbox = sandbox();
        Envelope job = tallyJob();

        Map<String, byte[]> first = sandbox.prepare(job.classes(), lambdas(job)).classes();
        Map<String, byte[]> second = sandbox.prepare(tallyJob().classes(), lambdas(tallyJob())).classes();

        assertSame(first, second, "the second identical job gets the prepared classes of the first");
        assertEquals(1, sandbox.cache().size());
        assertEquals(1, sandbox.cache().hits());
    }

    @Test
    void key_ofTheSameCode_isTheSameOnEveryThread_andEachCallStartsAFreshDigest() throws Exception {
        Envelope job = tallyJob();
        String key = PreparedCache.key(job.classes(), job.lambdas());
        List<java.util.concurrent.Future<String>> keys = new ArrayList<>();
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            for (int i = 0; i < 64; i++) {
                keys.add(threads.submit(() -> PreparedCache.key(job.classes(), job.lambdas())));
            }
            for (java.util.concurrent.Future<String> other : keys) {
                assertEquals(key, other.get());
            }
        } finally {
            threads.shutdown();
        }
        assertEquals(64, key.length(), "a hex SHA-256");
        assertFalse(key.equals(PreparedCache.key(job.classes(), List.of())), "the lambdas count");
    }

    @Test
    void prepare_oneByteOfOneClassChanged_isCheckedAndRefused() {
        Sandbox sandbox = sandbox();
        Map<String, byte[]> honest = ClassFiles.of(Clock.class);
        sandbox.prepare(honest);

        // one byte: a call of System.nanoTime becomes one of System.nanoTimf, which this server's JDK lacks
        Map<String, byte[]> changed = patched(honest, Clock.class.getName(), "nanoTime", "nanoTimf");
        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(changed));

        assertTrue(refused.getMessage().contains("nanoTimf"), refused.getMessage());
        assertEquals(0, sandbox.cache().hits());
        assertEquals(1, sandbox.cache().size(), "a refusal is not kept");
    }

    @Test
    void prepare_oneByteOfOneClassChanged_isCheckedAndRewrittenAnew() {
        Sandbox sandbox = sandbox();
        Envelope job = tallyJob();
        Map<String, byte[]> first = sandbox.prepare(job.classes(), lambdas(job)).classes();

        // the same length, so the class file stays well formed: the field count becomes counu everywhere
        Map<String, byte[]> changed = patched(job.classes(), Tally.class.getName(), "count", "counu");
        Map<String, byte[]> second = sandbox.prepare(changed, lambdas(job)).classes();

        assertNotSame(first, second);
        assertEquals(0, sandbox.cache().hits());
        assertEquals(2, sandbox.cache().size());
        assertTrue(indexOf(second.get(Tally.class.getName()), "counu".getBytes(StandardCharsets.UTF_8)) >= 0);
        assertFalse(indexOf(second.get(Tally.class.getName()), "count".getBytes(StandardCharsets.UTF_8)) >= 0);
    }

    @Test
    void prepare_lambdaSpecChanged_isCheckedAgain() {
        Sandbox sandbox = sandbox();
        Envelope job = tallyJob();
        Map<String, byte[]> first = sandbox.prepare(job.classes(), lambdas(job)).classes();
        LambdaSpec honest = job.lambdas().get(0);

        // the same class bytes and implementation, but called as an instance method: refused, though cached as static
        LambdaSpec virtual = new LambdaSpec(honest.capturingClass(), honest.functionalInterface(),
                honest.interfaceMethod(), honest.interfaceMethodType(), MethodHandleInfo.REF_invokeVirtual,
                honest.implClass(), honest.implName(), honest.implDescriptor(), honest.instantiatedType(),
                honest.capturedCount());
        SandboxException refused = assertThrows(SandboxException.class, () -> sandbox.prepare(job.classes(),
                LambdaFactories.of(List.of(virtual), job.classes().keySet())));
        assertTrue(refused.getMessage().contains("called as invokeVirtual"), refused.getMessage());

        // a lambda the check accepts, with another instantiated type: prepared anew, not served from the cache (its
        // bridge casts to the erased type, then to the implementation's, which here makes the same code)
        LambdaSpec wider = new LambdaSpec(honest.capturingClass(), honest.functionalInterface(),
                honest.interfaceMethod(), honest.interfaceMethodType(), honest.implKind(), honest.implClass(),
                honest.implName(), honest.implDescriptor(), honest.interfaceMethodType(), honest.capturedCount());
        Map<String, byte[]> second = sandbox.prepare(job.classes(),
                LambdaFactories.of(List.of(wider), job.classes().keySet())).classes();

        assertNotSame(first, second);
        assertEquals(0, sandbox.cache().hits());
        assertEquals(2, sandbox.cache().size());
    }

    @Test
    void prepare_refusedClass_isRefusedAgainWithACacheWarm() {
        Sandbox sandbox = sandbox();
        sandbox.prepare(ClassFiles.of(Benign.Point.class));
        Map<String, byte[]> hostile = ClassFiles.of(Hostile.Exits.class);

        SandboxException first = assertThrows(SandboxException.class, () -> sandbox.prepare(hostile));
        SandboxException again = assertThrows(SandboxException.class, () -> sandbox.prepare(hostile));

        assertEquals(first.getMessage(), again.getMessage());
        assertTrue(again.getMessage().contains("java.lang.System.exit(int)"), again.getMessage());
        assertEquals(1, sandbox.cache().size());
        assertEquals(0, sandbox.cache().hits());
    }

    @Test
    void load_cacheHit_givesEachJobItsOwnClassesAndStatics() throws Exception {
        Sandbox sandbox = sandbox();
        ShippedCode one = ShippedCode.load(sandbox, tallyJob());
        ShippedCode two = ShippedCode.load(sandbox, tallyJob());
        assertEquals(1, sandbox.cache().hits(), "the second job's code came from the cache");

        Object[] oneValues = one.values(model, 1, "[body]");
        @SuppressWarnings("unchecked")
        TraceBody<Integer> oneBody = (TraceBody<Integer>) oneValues[0];
        assertEquals(42, oneBody.run(null));
        assertEquals(43, oneBody.run(null));

        Object[] twoValues = two.values(model, 1, "[body]");
        @SuppressWarnings("unchecked")
        TraceBody<Integer> twoBody = (TraceBody<Integer>) twoValues[0];
        assertEquals(42, twoBody.run(null), "the second job's static starts where it was packed, not where the first "
                + "job left it");

        Class<?> oneTally = Class.forName(Tally.class.getName(), false, one.loader());
        Class<?> twoTally = Class.forName(Tally.class.getName(), false, two.loader());
        assertNotSame(oneTally, twoTally);
        assertNotSame(one.loader(), two.loader());
        assertEquals(43, count(oneTally));
        assertEquals(42, count(twoTally));
        assertEquals(41, Tally.count, "the test's own class is untouched");
    }

    private static int count(Class<?> tally) throws ReflectiveOperationException {
        Field count = tally.getDeclaredField("count");
        count.setAccessible(true);
        return count.getInt(null);
    }

    @Test
    void values_twoJobsWithTheSameClassNames_eachGetsItsOwnClasses() {
        Sandbox sandbox = sandbox();
        List<ShippedCode> jobs = new ArrayList<>();
        List<Object[]> values = new ArrayList<>();
        for (String text : List.of("one", "two", "three")) {
            Envelope envelope = Packing.pack("TRACE", model, new Object[] {Tally.bump(), new Mark(text)},
                    PreparedCacheTest.class.getClassLoader());
            ShippedCode code = ShippedCode.load(sandbox, envelope);
            jobs.add(code);
            values.add(code.values(model, 2, "[body, mark]"));
        }
        assertEquals(2, sandbox.cache().hits());

        for (int i = 0; i < jobs.size(); i++) {
            Object mark = values.get(i)[1];
            assertSame(jobs.get(i).loader(), mark.getClass().getClassLoader(), "job " + i + "'s value is of its class");
            assertSame(jobs.get(i).loader(), values.get(i)[0].getClass().getClassLoader(), "and its lambda too");
            assertEquals(List.of("one", "two", "three").get(i), text(mark));
        }
    }

    @Test
    void values_afterTheJob_keepNothingOfItsClassLoader() throws InterruptedException {
        Sandbox sandbox = sandbox();
        WeakReference<ClassLoader> loader = readOnce(sandbox);
        readOnce(sandbox); // the same code again: a cache hit, read by the reader the first job used

        for (int i = 0; i < 50 && loader.get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertNull(loader.get(), "the first job's class loader is unreachable once the job is done");
    }

    /** Loads and reads a job with a shipped value, and forgets it but for a weak reference to its class loader. */
    private static WeakReference<ClassLoader> readOnce(Sandbox sandbox) {
        Envelope envelope = Packing.pack("TRACE", model, new Object[] {Tally.bump(), new Mark("once")},
                PreparedCacheTest.class.getClassLoader());
        ShippedCode code = ShippedCode.load(sandbox, envelope);
        code.values(model, 2, "[body, mark]");
        return new WeakReference<>(code.loader());
    }

    private static String text(Object mark) {
        try {
            Field text = mark.getClass().getDeclaredField("text");
            text.setAccessible(true);
            return (String) text.get(mark);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void prepare_pastEntryBound_dropsLeastRecentlyUsed() {
        Sandbox sandbox = sandbox(2, 64L << 20);
        Map<String, byte[]> clock = sandbox.prepare(ClassFiles.of(Clock.class)).classes();
        Map<String, byte[]> point = sandbox.prepare(ClassFiles.of(Benign.Point.class)).classes();
        assertSame(clock, sandbox.prepare(ClassFiles.of(Clock.class)).classes(), "used again: now the most recent");
        sandbox.prepare(ClassFiles.of(Tally.class));

        assertEquals(2, sandbox.cache().size());
        assertSame(clock, sandbox.prepare(ClassFiles.of(Clock.class)).classes());
        Map<String, byte[]> pointAgain = sandbox.prepare(ClassFiles.of(Benign.Point.class)).classes();
        assertNotSame(point, pointAgain, "the least recently used was dropped, and checked again");
        assertArrayEquals(point.get(Benign.Point.class.getName()), pointAgain.get(Benign.Point.class.getName()));
    }

    @Test
    void prepare_pastByteBound_keepsAtMostTheBound() {
        Sandbox measuring = sandbox();
        measuring.prepare(ClassFiles.of(Clock.class));
        long clockBytes = measuring.cache().bytes();
        measuring.prepare(ClassFiles.of(Benign.Point.class));
        long bothBytes = measuring.cache().bytes();

        Sandbox sandbox = sandbox(256, bothBytes - 1);
        Map<String, byte[]> clock = sandbox.prepare(ClassFiles.of(Clock.class)).classes();
        sandbox.prepare(ClassFiles.of(Benign.Point.class));

        assertEquals(1, sandbox.cache().size());
        assertEquals(bothBytes - clockBytes, sandbox.cache().bytes());
        assertNotSame(clock, sandbox.prepare(ClassFiles.of(Clock.class)).classes(), "dropped for the bytes, checked again");

        Sandbox tiny = sandbox(256, clockBytes - 1);
        tiny.prepare(ClassFiles.of(Clock.class));
        assertEquals(0, tiny.cache().size(), "code larger than the whole bound is not kept");
        assertEquals(0, tiny.cache().bytes());
    }
}
