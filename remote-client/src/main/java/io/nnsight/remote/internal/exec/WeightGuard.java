package io.nnsight.remote.internal.exec;

import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.internal.WeightLoader;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

/**
 * Keeps a hosted model's weights as they were loaded, whatever a job does. A job's code may reach a
 * parameter or a buffer (as an operation's input, say) and change it in place; libtorch counts every
 * in-place change of a tensor in its version counter, so after each job the guard compares the counters and
 * restores what changed: a language model's parameters from its checkpoint, any other parameter and every
 * buffer from a copy taken when the guard was made. (The sandbox refuses the aliases that do not count
 * changes, {@code data()} and {@code variable_data()}.)
 *
 * <p>Its tensor handles and copies are its own, outside any {@code PointerScope}: they outlive jobs.
 */
final class WeightGuard {
    private final NNsight model;
    private final List<Tracked> tracked = new ArrayList<>();
    private long[] versions;

    /** A parameter or buffer: its name, a handle of our own, and a copy to restore it from, if kept. */
    private record Tracked(String name, Tensor tensor, Tensor copy) {}

    WeightGuard(NNsight model) {
        this.model = model;
        Module module = model.module();
        // A language model's parameters come back from its checkpoint; everything else from a copy.
        track(module.named_parameters(true), !(model instanceof LanguageModel));
        track(module.named_buffers(true), true);
        versions = versions();
    }

    private void track(StringTensorDict named, boolean copied) {
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (long i = 0; i < named.size(); i++) {
                // A handle of our own: the dictionary's entries die with the dictionary.
                Tensor tensor = kept(new Tensor(named.get(i).value()));
                Tensor copy = copied ? kept(tensor.clone()) : null;
                tracked.add(new Tracked(named.get(i).key().getString(), tensor, copy));
            }
        }
    }

    /** Takes a tensor out of the caller's {@link PointerScope}, if any: the guard outlives it. */
    private static Tensor kept(Tensor tensor) {
        PointerScope scope = PointerScope.getInnerScope();
        if (scope != null) {
            tensor.retainReference();
            scope.detach(tensor);
        }
        return tensor;
    }

    /**
     * Restores the weights if a job changed them.
     *
     * @return the names of the parameters and buffers that had changed; empty when none had
     */
    List<String> restoreIfChanged() {
        long[] now = versions();
        List<String> changed = new ArrayList<>();
        boolean reload = false;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (int i = 0; i < now.length; i++) {
                if (now[i] != versions[i]) {
                    Tracked entry = tracked.get(i);
                    changed.add(entry.name());
                    if (entry.copy() != null) {
                        entry.tensor().copy_(entry.copy());
                    } else {
                        reload = true;
                    }
                }
            }
        }
        if (reload) {
            LanguageModel language = (LanguageModel) model;
            WeightLoader.load((Module) language.module(), language.folder(), true);
        }
        if (!changed.isEmpty()) {
            versions = versions();
        }
        return changed;
    }

    private long[] versions() {
        long[] now = new long[tracked.size()];
        for (int i = 0; i < now.length; i++) {
            now[i] = tracked.get(i).tensor()._version();
        }
        return now;
    }
}
