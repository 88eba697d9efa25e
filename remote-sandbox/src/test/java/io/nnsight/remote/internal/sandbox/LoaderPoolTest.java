package io.nnsight.remote.internal.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.TraceBody;
import io.nnsight.nn.Linear;
import io.nnsight.remote.internal.allowlist.ServerClasses;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.Packing;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.ConstantDynamic;
import org.objectweb.asm.Handle;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * The class loaders a {@link Sandbox} keeps for the next job of the same code ({@link LoaderPool}): a job that gives
 * its loader back hands the next one a loader in the state of a new one (its static fields as a new loader has them,
 * whatever the job left there), concurrent jobs never share one, code that keeps state of its own in its classes is
 * never kept, and the pool is bounded.
 */
class LoaderPoolTest {
    private static NNsight model;

    @BeforeAll
    static void wrap() {
        model = NNsight.wrap(new Linear(4, 4));
    }

    private static Sandbox sandbox(int idleLoaders) {
        return new Sandbox(new ServerClasses(Sandbox.class.getClassLoader()), 256, 64L << 20, idleLoaders);
    }

    /** Shipped code with a static field, packed with the job, and a lambda that changes it. */
    static final class Tally {
        static int count = 41;
        static String last;

        private Tally() {}

        static TraceBody<Integer> bump() {
            return tr -> {
                last = "job " + count;
                return ++count;
            };
        }
    }

    private static Envelope tallyJob() {
        return Packing.pack("TRACE", model, new Object[] {Tally.bump()}, LoaderPoolTest.class.getClassLoader());
    }

    /** The job's body, its values read (and its statics set) in its loader. */
    @SuppressWarnings("unchecked")
    private static TraceBody<Integer> body(ShippedCode code) {
        return (TraceBody<Integer>) code.values(model, 1, "[body]")[0];
    }

    private static int runBody(ShippedCode code) {
        return body(code).run(null);
    }

    @Test
    void load_afterRecycle_takesTheLoaderBack_withItsStaticsCleared() throws Exception {
        Sandbox sandbox = sandbox(4);
        ShippedCode first = ShippedCode.load(sandbox, tallyJob());
        assertEquals(42, runBody(first));
        Class<?> tally = Class.forName(Tally.class.getName(), false, first.loader());
        assertEquals(42, staticValue(tally, "count"));
        assertEquals("job 41", staticValue(tally, "last"));
        first.recycle();
        first.recycle(); // a second call does nothing

        ShippedCode second = ShippedCode.load(sandbox, tallyJob());
        assertSame(first.loader(), second.loader(), "the second job of the same code takes the first one's loader");
        assertEquals(1, sandbox.loaders().taken());
        assertEquals(0, staticValue(tally, "count"), "cleared: nothing of the first job is left for the second");
        assertEquals(null, staticValue(tally, "last"));
        assertEquals(42, runBody(second), "the second job's static is set where it was packed");
    }

    @Test
    void load_jobsAtTheSameTime_eachGetsALoaderOfItsOwn() {
        Sandbox sandbox = sandbox(4);
        ShippedCode one = ShippedCode.load(sandbox, tallyJob());
        ShippedCode two = ShippedCode.load(sandbox, tallyJob());
        assertNotSame(one.loader(), two.loader(), "a loader is taken by one job at a time");
        TraceBody<Integer> oneBody = body(one);
        TraceBody<Integer> twoBody = body(two);
        assertEquals(42, oneBody.run(null));
        assertEquals(43, oneBody.run(null));
        assertEquals(42, twoBody.run(null), "the other job's static is its own");
        one.recycle();
        two.recycle();
        assertEquals(2, sandbox.loaders().size());

        ShippedCode three = ShippedCode.load(sandbox, tallyJob());
        assertSame(two.loader(), three.loader(), "the most recently given back is taken first");
        assertEquals(42, runBody(three));
    }

    @Test
    void load_withoutRecycle_getsANewLoader() {
        Sandbox sandbox = sandbox(4);
        ShippedCode failed = ShippedCode.load(sandbox, tallyJob());
        runBody(failed); // a job that failed does not give its loader back

        ShippedCode next = ShippedCode.load(sandbox, tallyJob());
        assertNotSame(failed.loader(), next.loader());
        assertEquals(0, sandbox.loaders().taken());
    }

    @Test
    void recycle_pastCapacity_dropsTheLeastRecentlyGivenBack() {
        Sandbox sandbox = sandbox(2);
        ShippedCode one = ShippedCode.load(sandbox, tallyJob());
        ShippedCode two = ShippedCode.load(sandbox, tallyJob());
        ShippedCode three = ShippedCode.load(sandbox, tallyJob());
        one.recycle();
        two.recycle();
        three.recycle();
        assertEquals(2, sandbox.loaders().size());

        assertSame(three.loader(), ShippedCode.load(sandbox, tallyJob()).loader());
        assertSame(two.loader(), ShippedCode.load(sandbox, tallyJob()).loader());
        assertNotSame(one.loader(), ShippedCode.load(sandbox, tallyJob()).loader(), "one was dropped");
    }

    @Test
    void recycle_noCapacity_keepsNothing() {
        Sandbox sandbox = sandbox(0);
        ShippedCode one = ShippedCode.load(sandbox, tallyJob());
        one.recycle();
        assertEquals(0, sandbox.loaders().size());
        assertNotSame(one.loader(), ShippedCode.load(sandbox, tallyJob()).loader());
    }

    @Test
    void recycle_otherCode_isNotTakenForIt() {
        Sandbox sandbox = sandbox(4);
        ShippedCode tally = ShippedCode.load(sandbox, tallyJob());
        tally.recycle();

        Map<String, byte[]> other = ClassFiles.of(Benign.Point.class);
        Sandbox.Prepared point = sandbox.prepare(other);
        assertNotSame(tally.loader(), sandbox.loader(point));
        assertEquals(1, sandbox.loaders().size(), "the loader of the other code still waits");
    }

    // ---- static fields of every kind ----

    private static final String STATICS = "shipped.Statics";

    /**
     * A class as a client ships it ({@code ClassPlan}: no static initializer, static fields no longer final, their
     * constants kept): a field of every type, with a constant and without, and one still final.
     */
    private static Map<String, byte[]> staticsClass() {
        ClassWriter writer = new ClassWriter(0);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC | Opcodes.ACC_SUPER, STATICS.replace('.', '/'), null,
                "java/lang/Object", null);
        int changeable = Opcodes.ACC_STATIC;
        writer.visitField(changeable, "anInt", "I", null, 7).visitEnd();
        writer.visitField(changeable, "aBoolean", "Z", null, 1).visitEnd();
        writer.visitField(changeable, "aByte", "B", null, 3).visitEnd();
        writer.visitField(changeable, "aChar", "C", null, (int) 'a').visitEnd();
        writer.visitField(changeable, "aShort", "S", null, 4).visitEnd();
        writer.visitField(changeable, "aLong", "J", null, 5L).visitEnd();
        writer.visitField(changeable, "aFloat", "F", null, 1.5f).visitEnd();
        writer.visitField(changeable, "aDouble", "D", null, 2.5).visitEnd();
        writer.visitField(changeable, "aString", "Ljava/lang/String;", null, "packed").visitEnd();
        writer.visitField(changeable, "plainInt", "I", null, null).visitEnd();
        writer.visitField(changeable, "plainBoolean", "Z", null, null).visitEnd();
        writer.visitField(changeable, "plainDouble", "D", null, null).visitEnd();
        writer.visitField(changeable, "anObject", "Ljava/lang/Object;", null, null).visitEnd();
        writer.visitField(Opcodes.ACC_STATIC | Opcodes.ACC_FINAL, "FIXED", "I", null, 9).visitEnd();
        MethodVisitor init = writer.visitMethod(Opcodes.ACC_PUBLIC, "<init>", "()V", null, null);
        init.visitCode();
        init.visitVarInsn(Opcodes.ALOAD, 0);
        init.visitMethodInsn(Opcodes.INVOKESPECIAL, "java/lang/Object", "<init>", "()V", false);
        init.visitInsn(Opcodes.RETURN);
        init.visitMaxs(1, 1);
        init.visitEnd();
        writer.visitEnd();
        Map<String, byte[]> classes = new LinkedHashMap<>();
        classes.put(STATICS, writer.toByteArray());
        return classes;
    }

    @Test
    void clearStatics_fieldsOfEveryKind_getTheValuesOfANewLoader() throws Exception {
        Sandbox sandbox = sandbox(4);
        Sandbox.Prepared code = sandbox.prepare(staticsClass());
        assertTrue(code.reusable());
        JobClassLoader used = sandbox.loader(code);
        Class<?> type = Class.forName(STATICS, true, used);
        Map<String, Object> fresh = staticValues(Class.forName(STATICS, true, sandbox.loader(code)));
        assertEquals(7, fresh.get("anInt"));
        assertEquals('a', fresh.get("aChar"));
        assertEquals("packed", fresh.get("aString"));

        for (Field field : type.getDeclaredFields()) {
            if (!Modifier.isFinal(field.getModifiers())) {
                field.setAccessible(true);
                field.set(null, changed(field.getType()));
            }
        }
        assertEquals(changed(int.class), staticValue(type, "anInt"));
        sandbox.recycle(code, used);

        assertSame(used, sandbox.loader(code));
        assertEquals(fresh, staticValues(type), "every field as a new loader has it, the final one untouched");
    }

    private static Object changed(Class<?> type) {
        if (type == int.class) {
            return 70;
        } else if (type == boolean.class) {
            return false;
        } else if (type == byte.class) {
            return (byte) 30;
        } else if (type == char.class) {
            return 'z';
        } else if (type == short.class) {
            return (short) 40;
        } else if (type == long.class) {
            return 50L;
        } else if (type == float.class) {
            return 15f;
        } else if (type == double.class) {
            return 25.0;
        } else if (type == String.class) {
            return "left by a job";
        }
        return new Object();
    }

    // ---- code that keeps state of its own ----

    @Test
    void recycle_codeWithAStaticInitializer_isNotKept() {
        Sandbox sandbox = sandbox(4);
        Sandbox.Prepared enums = sandbox.prepare(ClassFiles.of(Benign.Color.class));
        assertFalse(enums.reusable(), "an enum keeps its static initializer, which runs once per loader");
        JobClassLoader loader = sandbox.loader(enums);
        sandbox.recycle(enums, loader);
        assertEquals(0, sandbox.loaders().size());
        assertNotSame(loader, sandbox.loader(enums));
    }

    @Test
    void recycle_codeWithADynamicConstant_isNotKept() {
        Sandbox sandbox = sandbox(4);
        Sandbox.Prepared constant = sandbox.prepare(dynamicConstantClass());
        assertFalse(constant.reusable(), "a dynamic constant's value (here a list) stays with its class");
        sandbox.recycle(constant, sandbox.loader(constant));
        assertEquals(0, sandbox.loaders().size());
    }

    /** A class whose method returns a dynamic constant made by {@code ConstantBootstraps.invoke}: a mutable list. */
    private static Map<String, byte[]> dynamicConstantClass() {
        String name = "shipped/Constant";
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_MAXS);
        writer.visit(Opcodes.V17, Opcodes.ACC_PUBLIC | Opcodes.ACC_SUPER, name, null, "java/lang/Object", null);
        MethodVisitor list = writer.visitMethod(Opcodes.ACC_PUBLIC | Opcodes.ACC_STATIC, "list",
                "()Ljava/util/ArrayList;", null, null);
        list.visitCode();
        list.visitLdcInsn(new ConstantDynamic("list", "Ljava/util/ArrayList;",
                new Handle(Opcodes.H_INVOKESTATIC, "java/lang/invoke/ConstantBootstraps", "invoke",
                        "(Ljava/lang/invoke/MethodHandles$Lookup;Ljava/lang/String;Ljava/lang/Class;"
                                + "Ljava/lang/invoke/MethodHandle;[Ljava/lang/Object;)Ljava/lang/Object;", false),
                new Handle(Opcodes.H_NEWINVOKESPECIAL, "java/util/ArrayList", "<init>", "()V", false)));
        list.visitInsn(Opcodes.ARETURN);
        list.visitMaxs(0, 0);
        list.visitEnd();
        writer.visitEnd();
        Map<String, byte[]> classes = new LinkedHashMap<>();
        classes.put(name.replace('/', '.'), writer.toByteArray());
        return classes;
    }

    private static Object staticValue(Class<?> type, String name) throws ReflectiveOperationException {
        Field field = type.getDeclaredField(name);
        field.setAccessible(true);
        return field.get(null);
    }

    private static Map<String, Object> staticValues(Class<?> type) throws ReflectiveOperationException {
        Map<String, Object> values = new LinkedHashMap<>();
        for (Field field : type.getDeclaredFields()) {
            values.put(field.getName(), staticValue(type, field.getName()));
        }
        return values;
    }
}
