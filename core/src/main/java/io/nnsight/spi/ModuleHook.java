package io.nnsight.spi;

import io.nnsight.Inputs;
import java.util.function.Function;

/**
 * Code that runs around every call of one module: libtorch's C++ modules have no forward hooks, so this
 * is the hook that traceable modules offer instead, installed with {@link HookPoint#add(ModuleHook)}.
 *
 * <p>A hook sees the call's inputs and decides what happens: call {@code proceed} to run the module
 * (with the same inputs or changed ones) and return its output, possibly changed; or return a value
 * without calling {@code proceed} to skip the module's computation. A hook that only reads:
 *
 * <pre>{@code
 * List<Tensor> seen = new ArrayList<>();
 * HookPoint.Registration registration = layer.hookPoint().add((inputs, proceed) -> {
 *     Object output = proceed.apply(inputs);
 *     seen.add((Tensor) output);
 *     return output;
 * });
 * model.forward(x);
 * registration.close();
 * }</pre>
 *
 * <p>Traces do not need this interface: the tracing engine installs its own hooks. It is the building
 * block for tools that want plain hooks, and the baseline that nnsight's overhead is measured against.
 */
@FunctionalInterface
public interface ModuleHook {
    /**
     * Runs one call of the module.
     *
     * @param inputs the call's arguments
     * @param proceed runs the module (and the hooks added after this one) on the given inputs
     * @return the call's output
     */
    Object around(Inputs inputs, Function<Inputs, Object> proceed);

    /**
     * Whether the hook wants to see calls right now. An inactive hook is passed over without boxing
     * the call's arguments, so a hook that is usually idle costs one check per call. Defaults to {@code
     * true}.
     */
    default boolean isActive() {
        return true;
    }

    /**
     * Whether the hook, active now, wants the values of the module's next call: a module that can compute
     * something it does not need itself (an attention's probabilities, when a fused kernel gives the same
     * output) asks through {@link HookPoint#isAwaited()} before paying for it. Defaults to {@link #isActive()}: a
     * plain hook sees every call. A trace's hook answers whether one of its bodies waits for the module now.
     */
    default boolean isAwaited() {
        return isActive();
    }
}
