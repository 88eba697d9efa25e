package io.nnsight.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.bytedeco.pytorch.Module;

/**
 * An indexed list of modules, named {@code "0"}, {@code "1"}, ..., like {@code nn.ModuleList}: the
 * container of a model's repeated layers. It has no computation of its own (so traces read its elements,
 * {@code layers.3}, not the list).
 *
 * @param <M> the type of the elements
 */
public final class ModuleList<M extends Module> extends HookedModule implements Iterable<M> {
    private final List<M> modules = new ArrayList<>();

    /** A list of the given modules. */
    public ModuleList(List<? extends M> modules) {
        for (M module : modules) {
            register(Integer.toString(this.modules.size()), module);
            this.modules.add(module);
        }
    }

    /** The module at {@code index}. */
    public M get(int index) {
        return modules.get(index);
    }

    /** The number of modules. */
    public int size() {
        return modules.size();
    }

    @Override
    public Iterator<M> iterator() {
        return Collections.unmodifiableList(modules).iterator();
    }
}
