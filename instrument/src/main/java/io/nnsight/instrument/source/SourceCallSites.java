package io.nnsight.instrument.source;

import io.nnsight.instrument.transform.NativeCallSites;
import io.nnsight.spi.OperationCalls;
import java.lang.invoke.CallSite;
import java.lang.invoke.ConstantCallSite;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The call sites the agent makes of the operations inside module code ({@code .source}): when no trace
 * runs anywhere, the original call and nothing else; when one does, the call goes to core's {@link
 * OperationCalls}, which makes it the operation of the module running now, so bodies can read and replace it.
 */
public final class SourceCallSites {
    private static final MethodHandle DISPATCH;
    private static final MethodHandle ANY_TRACE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            DISPATCH = lookup.findStatic(OperationCalls.class, "call", MethodType.methodType(Object.class,
                    MethodHandle.class, String.class, int.class, boolean.class, Object[].class));
            ANY_TRACE = lookup.findStatic(OperationCalls.class, "anyTrace", MethodType.methodType(boolean.class));
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
        MethodHandle test = MethodHandles.dropArguments(ANY_TRACE, 0, type.parameterList());
        return new ConstantCallSite(MethodHandles.guardWithTest(test, dispatch, call));
    }
}
