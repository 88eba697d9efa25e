package io.nnsight.instrument.transform;

import io.nnsight.Inputs;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.Traceable;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import net.bytebuddy.implementation.bind.annotation.AllArguments;
import net.bytebuddy.implementation.bind.annotation.RuntimeType;
import net.bytebuddy.implementation.bind.annotation.SuperMethod;
import net.bytebuddy.implementation.bind.annotation.This;

/**
 * What an instrumented {@code forward} of a plain Bytedeco module runs: its original code (kept by the
 * agent in a private method), through the module's hook point when a hook is there. A {@code forward} that
 * calls another {@code forward} of the same object ({@code super.forward(x)}) is one call of the module,
 * seen once.
 */
public final class ForwardInterceptor {
    private static final ThreadLocal<Object> RUNNING = new ThreadLocal<>();
    private static final MethodType SPREAD = MethodType.methodType(Object.class, Object.class, Object[].class);
    private static final ConcurrentMap<Method, MethodHandle> ORIGINALS = new ConcurrentHashMap<>();

    private ForwardInterceptor() {}

    /** Runs one call of {@code self}'s forward. */
    @RuntimeType
    public static Object intercept(@This Object self, @AllArguments Object[] arguments, @SuperMethod Method original) {
        MethodHandle code = ORIGINALS.computeIfAbsent(original, ForwardInterceptor::handle);
        HookPoint point = ((Traceable) self).hookPoint();
        if (point == null || point.hookCount() == 0 || RUNNING.get() == self) {
            return invoke(code, self, arguments);
        }
        Object outer = RUNNING.get();
        RUNNING.set(self);
        try {
            return point.call(Inputs.of(arguments), inputs -> invoke(code, self, inputs.positional().toArray()));
        } finally {
            RUNNING.set(outer);
        }
    }

    private static Object invoke(MethodHandle code, Object self, Object[] arguments) {
        try {
            return code.invokeExact(self, arguments);
        } catch (Throwable error) {
            throw ForwardInterceptor.<RuntimeException>unchecked(error);
        }
    }

    /** Throws {@code error} as it is, checked or not, as the module's own code would have. */
    @SuppressWarnings("unchecked")
    private static <E extends Throwable> E unchecked(Throwable error) throws E {
        throw (E) error;
    }

    private static MethodHandle handle(Method original) {
        try {
            original.setAccessible(true);
            return MethodHandles.lookup().unreflect(original)
                    .asSpreader(Object[].class, original.getParameterCount())
                    .asType(SPREAD);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot call the original code of " + original, e);
        }
    }
}
