package io.nnsight.remote.sandbox;

import io.nnsight.NNsight;
import io.nnsight.remote.internal.sandbox.WeightGuard;
import io.nnsight.remote.spi.JobFailedException;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The weights of the models an executor runs jobs on: each model's {@link WeightGuard}, and the models whose
 * weights could not be restored, which run no more jobs. Keyed by the wrapper that built the model's tree
 * ({@link NNsight#root()}), which its views and copies share.
 */
final class ModelWeights {
    private final Map<NNsight, WeightGuard> guards = Collections.synchronizedMap(new WeakHashMap<>());
    /** The models whose weights could not be restored, with why. */
    private final Map<NNsight, String> unusable = Collections.synchronizedMap(new WeakHashMap<>());

    /** The model's guard, made at its first job: it keeps the weights as they are then. */
    WeightGuard guard(NNsight model) {
        return guards.computeIfAbsent(model.root(), WeightGuard::new);
    }

    /** Why the model runs no more jobs, or {@code null} while it does. */
    String lost(NNsight model) {
        return unusable.get(model.root());
    }

    /**
     * Restores the model's weights if a job changed them.
     *
     * @return the names of what was changed and restored; empty if nothing was
     * @throws JobFailedException {@linkplain JobFailedException#unusableModel unusable model}: the weights could not
     *     be restored, and the model runs no more jobs
     */
    List<String> restoreIfChanged(NNsight model, WeightGuard guard) throws JobFailedException {
        try {
            return guard.restoreIfChanged();
        } catch (IllegalStateException e) {
            String why = "model '" + model.key() + "' is unavailable: " + e.getMessage() + "; it serves again after a "
                    + "restart of the server";
            unusable.put(model.root(), why);
            throw JobFailedException.unusableModel(why, e);
        }
    }
}
