package io.nnsight.spi;

import io.nnsight.Inputs;
import io.nnsight.internal.Interleaver;
import io.nnsight.internal.Running;
import io.nnsight.internal.StackTraces;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import org.bytedeco.pytorch.Module;

/**
 * Where the calls inside a traced module's code go ({@code .source}: {@code attention.op("softmax_0")}). The
 * nnsight agent rewrites each such call site into a guard and a dispatch:
 *
 * <pre>{@code
 * OperationCalls.anyTrace() ? OperationCalls.call(original, "com.example.Attention", 3, true, arguments)
 *                           : original.invoke(arguments)
 * }</pre>
 *
 * <p>{@link #call} makes the call the operation of the module that runs now in the trace whose model runs on
 * this thread, so bodies can read and replace it, and makes it as it is anywhere else (no trace, a body's own
 * thread, a module called directly with {@code envoy.call}).
 *
 * <p>An operation's inputs are the call's arguments, preceded by the receiver of an instance call (the tensor
 * of {@code x.view(...)}), except when the receiver is a module ({@code fc.forward(x)}: {@code x}).
 */
public final class OperationCalls {
    private OperationCalls() {}

    /** Whether a trace runs now, on any thread: the cheap guard before {@link #call}. */
    public static boolean anyTrace() {
        return Running.anyTrace();
    }

    /**
     * Makes the call, as operation {@code site} of {@code className}'s code when a trace observes it.
     *
     * @param call the original call, taking its arguments (receiver first) as one array
     * @param instance whether it is an instance call, whose first argument is the receiver
     * @return what the call returned, or what a body replaced it with
     */
    public static Object call(MethodHandle call, String className, int site, boolean instance, Object[] arguments)
            throws Throwable {
        Interleaver interleaver = Running.observingHere();
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
