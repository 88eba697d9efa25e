package io.nnsight.spi;

import io.nnsight.Inputs;
import io.nnsight.Tensors;
import java.util.Arrays;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.Tensor;

/**
 * The place where the calls of one traceable module pass, so that {@linkplain ModuleHook hooks} can see
 * and change them.
 *
 * <p>A traceable module owns one hook point and routes the body of its {@code forward} through one of the
 * {@code call} methods; the bridge's {@code HookedModule} does this for its subclasses. With no active
 * hook a call costs one array read and a loop over the (usually empty) hook list: the module runs at
 * bare speed.
 *
 * <p>Hooks run in the order they were added, the first outermost. Adding and removing hooks is
 * thread-safe; a call sees the hooks present when it started.
 */
public final class HookPoint {
    private static final ModuleHook[] NONE = {};

    private volatile ModuleHook[] hooks = NONE;

    /** A hook point without hooks: the module it belongs to runs at bare speed until one is added. */
    public HookPoint() {
        // hooks are added by the wrappers that trace the module
    }

    /** Handle of an added hook; {@link #close()} removes it and may be called more than once. */
    public interface Registration extends AutoCloseable {
        /** Removes the hook. Calls already running keep it until they finish. */
        @Override
        void close();
    }

    /** Adds a hook that runs around every later call of the module. */
    public Registration add(ModuleHook hook) {
        if (hook == null) {
            throw new NullPointerException("hook");
        }
        synchronized (this) {
            ModuleHook[] grown = Arrays.copyOf(hooks, hooks.length + 1);
            grown[hooks.length] = hook;
            hooks = grown;
        }
        return () -> remove(hook);
    }

    private synchronized void remove(ModuleHook hook) {
        ModuleHook[] current = hooks;
        for (int i = 0; i < current.length; i++) {
            if (current[i] == hook) {
                ModuleHook[] shrunk = new ModuleHook[current.length - 1];
                System.arraycopy(current, 0, shrunk, 0, i);
                System.arraycopy(current, i + 1, shrunk, i, current.length - i - 1);
                hooks = shrunk.length == 0 ? NONE : shrunk;
                return;
            }
        }
    }

    /** The number of hooks added and not yet removed. */
    public int hookCount() {
        return hooks.length;
    }

    /**
     * Whether some active hook wants to see the module's next call now: the question a module asks before
     * computing a value only hooks need. An attention that runs a fused kernel computes its probabilities
     * (a child module) only when a trace's body waits for them, so they cost nothing otherwise:
     *
     * <pre>{@code
     * boolean eager = probabilities.hookPoint().isAwaited();
     * }</pre>
     *
     * <p>False outside traces, and in a trace whose bodies wait for other modules.
     */
    public boolean isAwaited() {
        ModuleHook[] current = hooks;
        for (int i = 0; i < current.length; i++) {
            if (current[i].isActive() && current[i].isAwaited()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs a one-tensor call of the module through the active hooks.
     *
     * @param input the call's argument
     * @param computation the module's own computation
     * @return the output, as changed by the hooks
     */
    public Tensor call(Tensor input, UnaryOperator<Tensor> computation) {
        ModuleHook[] current = hooks;
        for (int i = 0; i < current.length; i++) {
            if (current[i].isActive()) {
                Object output = dispatch(current, i, Inputs.of(input), inputs -> computation.apply(inputs.tensor(0)));
                if (output instanceof Tensor) {
                    return (Tensor) output;
                }
                throw new ClassCastException("a hook replaced the output of a module that returns a Tensor with "
                        + Tensors.describe(output));
            }
        }
        return computation.apply(input);
    }

    /**
     * Runs a call with any arguments through the active hooks.
     *
     * @param inputs the call's arguments
     * @param computation the module's own computation
     * @return the output, as changed by the hooks
     */
    public Object call(Inputs inputs, Function<Inputs, ?> computation) {
        ModuleHook[] current = hooks;
        for (int i = 0; i < current.length; i++) {
            if (current[i].isActive()) {
                return dispatch(current, i, inputs, computation);
            }
        }
        return computation.apply(inputs);
    }

    private static Object dispatch(ModuleHook[] hooks, int from, Inputs inputs, Function<Inputs, ?> computation) {
        for (int i = from; i < hooks.length; i++) {
            if (hooks[i].isActive()) {
                int next = i + 1;
                return hooks[i].around(inputs, changed -> dispatch(hooks, next, changed, computation));
            }
        }
        return computation.apply(inputs);
    }
}
