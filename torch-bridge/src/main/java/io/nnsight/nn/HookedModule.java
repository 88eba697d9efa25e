package io.nnsight.nn;

import io.nnsight.Inputs;
import io.nnsight.LibTorch;
import io.nnsight.spi.HookPoint;
import io.nnsight.spi.Traceable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * The base class of libtorch modules written in Java whose calls traces can see, without the nnsight
 * agent.
 *
 * <p>libtorch's C++ modules have no forward hooks, so a module provides them itself: its {@code forward}
 * runs its computation through {@link #hooked}. Children are registered with {@link #register}, which
 * also registers them with libtorch (so {@code parameters()}, {@code eval()} and {@code to(...)} see
 * them); parameters with {@link #registerParameter}.
 *
 * <pre>{@code
 * public final class Block extends HookedModule implements TensorModule {
 *     private final Linear fc = register("fc", new Linear(64, 64));
 *     private final ReLU act = register("act", new ReLU());
 *
 *     public Tensor forward(Tensor x) {
 *         return hooked(x, this::compute);
 *     }
 *
 *     private Tensor compute(Tensor x) {
 *         return act.forward(fc.forward(x));
 *     }
 * }
 * }</pre>
 *
 * <p><b>Pitfall:</b> the computation must use the input it is given, not the argument of {@code forward}:
 * a trace may have replaced it. Passing a method reference, as above, makes that hard to get wrong.
 *
 * <p><b>Memory:</b> a module lives until it is garbage collected, even when it is created inside a
 * {@link PointerScope}; tensors a module keeps between calls must be made in its constructor (or taken
 * out of scopes with {@link #persistent}), because a trace frees the tensors made while it runs.
 */
public abstract class HookedModule extends Module implements Traceable {
    private final HookPoint hookPoint = new HookPoint();
    private final Map<String, Module> children = new LinkedHashMap<>();

    /** Creates the module's native part; it does not belong to the caller's {@link PointerScope}. */
    protected HookedModule() {
        LibTorch.initialize();
        persistent(this);
    }

    /**
     * Registers a child module under {@code name}, with libtorch and for the module tree of traces.
     *
     * @return {@code child}, to assign to a field
     */
    protected final <M extends Module> M register(String name, M child) {
        if (children.containsKey(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " already has a child named '" + name + "'");
        }
        register_module(name, child);
        children.put(name, child);
        return child;
    }

    /**
     * Registers a parameter under {@code name}.
     *
     * @return a handle to the parameter (sharing its storage with the one libtorch holds)
     */
    protected final Tensor registerParameter(String name, Tensor value) {
        register_parameter(name, value);
        return persistent(value);
    }

    /** Runs a one-tensor computation of this module through its hooks: the body of a {@code forward(Tensor)}. */
    protected final Tensor hooked(Tensor input, UnaryOperator<Tensor> computation) {
        return hookPoint.call(input, computation);
    }

    /** Runs a computation of this module through its hooks, for a {@code forward} with several arguments. */
    protected final Object hooked(Inputs inputs, Function<Inputs, ?> computation) {
        return hookPoint.call(inputs, computation);
    }

    /**
     * Takes a native object this module keeps out of the caller's {@link PointerScope}, so that it lives
     * as long as the module instead of being freed when the scope closes.
     *
     * @return {@code pointer}
     */
    protected static <P extends Pointer> P persistent(P pointer) {
        PointerScope scope = PointerScope.getInnerScope();
        if (scope != null && pointer.referenceCount() > 0) {
            pointer.retainReference();
            scope.detach(pointer);
        }
        return pointer;
    }

    @Override
    public final HookPoint hookPoint() {
        return hookPoint;
    }

    @Override
    public final Map<String, Module> namedChildren() {
        return Collections.unmodifiableMap(children);
    }
}
