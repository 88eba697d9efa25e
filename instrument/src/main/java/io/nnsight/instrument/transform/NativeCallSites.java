package io.nnsight.instrument.transform;

import io.nnsight.Inputs;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.NativeHookPoints;
import java.lang.invoke.CallSite;
import java.lang.invoke.ConstantCallSite;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;

/**
 * The call sites the agent makes of calls to native modules' {@code forward} ({@code fc1.forward(x)} with
 * {@code fc1} a {@code LinearImpl}): an {@code invokedynamic} whose target runs the original call through
 * the module's {@linkplain NativeHookPoints hook point}, or straight when it has no hook.
 */
public final class NativeCallSites {
    private static final MethodHandle DISPATCH;

    static {
        try {
            DISPATCH = MethodHandles.lookup().findStatic(NativeCallSites.class, "dispatch",
                    MethodType.methodType(Object.class, MethodHandle.class, Object[].class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private NativeCallSites() {}

    /**
     * Links one call site.
     *
     * @param type {@code (receiver, arguments...)result}
     * @param original the call the site replaced
     */
    public static CallSite bootstrap(MethodHandles.Lookup caller, String name, MethodType type, MethodHandle original) {
        return new ConstantCallSite(target(original, type));
    }

    /**
     * The call {@code original}, of type {@code type}, through the receiver's hook point: the target of a site
     * of this class, and of an operation's site that calls a native module's forward ({@code SourceCallSites}).
     */
    public static MethodHandle target(MethodHandle original, MethodType type) {
        int count = type.parameterCount();
        MethodHandle spread = original.asFixedArity().asSpreader(Object[].class, count).asType(MethodType.methodType(Object.class, Object[].class));
        return DISPATCH.bindTo(spread).asCollector(Object[].class, count).asType(type);
    }

    private static Object dispatch(MethodHandle original, Object[] receiverAndArguments) throws Throwable {
        HookPoint point = NativeHookPoints.peek(receiverAndArguments[0]);
        if (point == null || point.hookCount() == 0) {
            return original.invokeExact(receiverAndArguments);
        }
        Object receiver = receiverAndArguments[0];
        return point.call(Inputs.of(Arrays.copyOfRange(receiverAndArguments, 1, receiverAndArguments.length)), inputs -> {
            Object[] call = new Object[inputs.size() + 1];
            call[0] = receiver;
            for (int i = 0; i < inputs.size(); i++) {
                call[i + 1] = inputs.get(i);
            }
            try {
                return original.invokeExact(call);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        });
    }
}
