package io.nnsight.nn;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * Runs its children one after the other, each on the previous one's output, like {@code nn.Sequential}.
 * Children are named {@code "0"}, {@code "1"}, ... or by {@link #add(String, Module)}.
 *
 * <pre>{@code
 * Sequential numbered = new Sequential(new Linear(64, 64), new ReLU());
 * Sequential named = new Sequential()
 *         .add("layer1", new Linear(5, 10))
 *         .add("layer2", new Linear(10, 2));
 * }</pre>
 */
public final class Sequential extends HookedModule implements TensorModule {
    private TensorModule[] steps = new TensorModule[0];

    /** A sequence of the given modules, named by position; each must be a {@link TensorModule}. */
    public Sequential(Module... modules) {
        for (Module module : modules) {
            add(Integer.toString(steps.length), module);
        }
    }

    /**
     * Appends a module under {@code name}.
     *
     * @param module a {@link TensorModule}
     * @return this sequence
     */
    public Sequential add(String name, Module module) {
        if (!(module instanceof TensorModule)) {
            throw new IllegalArgumentException("a Sequential chains modules that map one tensor to one tensor; "
                    + module.getClass().getSimpleName() + " is not a TensorModule");
        }
        register(name, module);
        TensorModule[] grown = java.util.Arrays.copyOf(steps, steps.length + 1);
        grown[steps.length] = (TensorModule) module;
        steps = grown;
        return this;
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, this::chain);
    }

    private Tensor chain(Tensor input) {
        Tensor x = input;
        for (TensorModule step : steps) {
            x = step.forward(x);
        }
        return x;
    }
}
