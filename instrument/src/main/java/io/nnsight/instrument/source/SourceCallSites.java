package io.nnsight.instrument.source;

import io.nnsight.Inputs;
import io.nnsight.internal.Interleaver;
import io.nnsight.internal.StackTraces;
import io.nnsight.instrument.transform.NativeCallSites;
import java.lang.invoke.CallSite;
import java.lang.invoke.ConstantCallSite;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;
import org.bytedeco.pytorch.Module;

/**
 * The call sites the agent makes of the operations inside module code ({@code .source}): when no trace
 * runs anywhere, the original call and nothing else; when one does, the call goes through the trace's
 * interleaver as the operation of the module running now, so bodies can read and replace it.
 *
 * <p>An operation's inputs are the call's arguments, preceded by the receiver of an instance call (the
 * tensor of {@code x.view(...)}), except when the receiver is a module ({@code fc.forward(x)}: {@code x}).
 */
public final class SourceCallSites {
    private static final MethodHandle DISPATCH;
    private static final MethodHandle ANY_ACTIVE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            DISPATCH = lookup.findStatic(SourceCallSites.class, "dispatch", MethodType.methodType(Object.class,
                    MethodHandle.class, String.class, int.class, boolean.class, Object[].class));
            ANY_ACTIVE = lookup.findStatic(Interleaver.class, "anyActive", MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private SourceCallSites() {}

    /**
     * Links one operation's call site.
     *
     * @param type the call's type: {@code (receiver, arguments...)result} for an instance call
     * @param original the call the site replaced
     * @param className the class whose code makes the call
     * @param site the operation's number in that class's {@link io.nnsight.spi.SourceMap}
     * @param flags bit 0: an instance call; bit 1: a call to a native module's forward, which also goes through
     *     that module's hook point
     */
    public static CallSite bootstrap(MethodHandles.Lookup caller, String name, MethodType type, MethodHandle original,
            String className, int site, int flags) {
        MethodHandle fixed = original.asFixedArity();
        MethodHandle call = (flags & 2) != 0 ? NativeCallSites.target(fixed, type) : fixed.asType(type);
        int count = type.parameterCount();
        MethodHandle spread = call.asSpreader(Object[].class, count).asType(MethodType.methodType(Object.class, Object[].class));
        MethodHandle dispatch = MethodHandles.insertArguments(DISPATCH, 0, spread, className, site, (flags & 1) != 0)
                .asCollector(Object[].class, count)
                .asType(type);
        MethodHandle test = MethodHandles.dropArguments(ANY_ACTIVE, 0, type.parameterList());
        return new ConstantCallSite(MethodHandles.guardWithTest(test, dispatch, call));
    }

    private static Object dispatch(MethodHandle call, String className, int site, boolean instance, Object[] arguments)
            throws Throwable {
        Interleaver interleaver = Interleaver.active();
        int index = interleaver == null ? -1 : interleaver.operation(className, site);
        if (index < 0) {
            return call.invokeExact(arguments);
        }
        if (!interleaver.waitsFor(index)) {
            int iteration = interleaver.operationStarted(index);
            return interleaver.ended(index, iteration, call.invokeExact(arguments));
        }
        boolean receiverIsModule = instance && arguments[0] instanceof Module;
        Object receiver = receiverIsModule ? arguments[0] : null;
        Object[] visible = receiverIsModule ? Arrays.copyOfRange(arguments, 1, arguments.length) : arguments;
        return interleaver.call(index, Inputs.of(visible), inputs -> {
            Object[] full = inputs.positional().toArray();
            if (receiverIsModule) {
                Object[] withReceiver = new Object[full.length + 1];
                withReceiver[0] = receiver;
                System.arraycopy(full, 0, withReceiver, 1, full.length);
                full = withReceiver;
            }
            try {
                return call.invokeExact(full);
            } catch (Throwable error) {
                throw StackTraces.rethrow(error);
            }
        });
    }
}
