package io.nnsight.remote.internal.exec;

import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.internal.WeightLoader;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

/**
 * Keeps a hosted model's weights as they were loaded, whatever a job does. A job's code may reach a
 * parameter (as an operation's input, say) and change it in place; libtorch counts every in-place change
 * of a tensor in its version counter, so after each job the guard compares the counters and restores the
 * parameters if any changed: a language model's from its checkpoint, any other model's from a copy taken
 * when the guard was made.
 *
 * <p>Make a guard outside any {@code PointerScope}: its parameter handles and copies must outlive jobs.
 */
final class WeightGuard {
    private final NNsight model;
    private final List<String> names = new ArrayList<>();
    private final List<Tensor> parameters = new ArrayList<>();
    private final List<Tensor> copies = new ArrayList<>();
    private long[] versions;

    WeightGuard(NNsight model) {
        this.model = model;
        StringTensorDict named = model.module().named_parameters(true);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (long i = 0; i < named.size(); i++) {
                // value() points into the dict, which is freed once collected: hold a tensor of our own
                Tensor parameter = new Tensor(named.get(i).value());
                names.add(named.get(i).key().getString());
                parameters.add(parameter);
                if (!(model instanceof LanguageModel)) {
                    copies.add(parameter.clone());
                }
            }
        }
        versions = versions();
    }

    /**
     * Restores the weights if a job changed them.
     *
     * @return the names of the parameters that had changed; empty when none had
     */
    List<String> restoreIfChanged() {
        long[] now = versions();
        List<String> changed = new ArrayList<>();
        for (int i = 0; i < now.length; i++) {
            if (now[i] != versions[i]) {
                changed.add(names.get(i));
            }
        }
        if (!changed.isEmpty()) {
            if (model instanceof LanguageModel) {
                LanguageModel language = (LanguageModel) model;
                WeightLoader.load((Module) language.module(), language.folder(), true);
            } else {
                try (NoGradGuard noGrad = new NoGradGuard()) {
                    for (int i = 0; i < parameters.size(); i++) {
                        parameters.get(i).copy_(copies.get(i));
                    }
                }
            }
            versions = versions();
        }
        return changed;
    }

    private long[] versions() {
        long[] now = new long[parameters.size()];
        for (int i = 0; i < now.length; i++) {
            now[i] = parameters.get(i)._version();
        }
        return now;
    }
}
