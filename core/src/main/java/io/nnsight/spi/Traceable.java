package io.nnsight.spi;

import java.util.Map;
import org.bytedeco.pytorch.Module;

/**
 * A module whose calls traces can see without the nnsight agent.
 *
 * <p>libtorch's modules are C++ objects without forward hooks. A Java module becomes traceable by
 * routing its computation through its {@link #hookPoint()} and by listing its children, so that {@code
 * NNsight.wrap} can build the tree of named modules. The bridge's {@code HookedModule} implements this
 * interface for its subclasses; implement it directly only for a module that cannot extend that class.
 */
public interface Traceable {
    /** The hook point through which every call of this module runs. */
    HookPoint hookPoint();

    /**
     * This module's direct children by name, in registration order, as the Java objects the module
     * calls (the names are those of libtorch's {@code named_children()}).
     */
    Map<String, Module> namedChildren();

    /**
     * One line describing this module in the printed module tree, like {@code Linear(in_features=5,
     * out_features=10, bias=true)}. Defaults to the class's simple name followed by {@code ()}.
     */
    default String describe() {
        return getClass().getSimpleName() + "()";
    }
}
