package io.nnsight;

import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.pytorch.Tensor;

/**
 * Intervention helpers in a class of their own, called by {@link StateMachineTest}'s bodies: the agent
 * compiles them when they load, and the bodies' class predicts it from their class file.
 */
final class Readers {
    private final NNsight model;
    private final AtomicInteger finallyRuns;

    Readers(NNsight model, AtomicInteger finallyRuns) {
        this.model = model;
        this.finallyRuns = finallyRuns;
    }

    /** One module's output, summed. */
    static double outputSum(NNsight model, String path) {
        return model.get(path).output().sum().item_double();
    }

    /** The outputs of {@code paths[from..]}, each scaled by its depth and summed, read recursively. */
    static double depthWeighted(NNsight model, String[] paths, int from) {
        double here = (from + 1) * outputSum(model, paths[from]);
        return from + 1 == paths.length ? here : here + depthWeighted(model, paths, from + 1);
    }

    /** Reads through {@link Pong} and back: recursion across two classes. */
    static double ping(NNsight model, String[] paths, int from) {
        double here = outputSum(model, paths[from]);
        return from + 1 == paths.length ? here : here - Pong.pong(model, paths, from + 1);
    }

    /** An instance method of a final class: one possible target. Reads two layers inside a try/finally. */
    double bothInFinally() {
        try {
            double first = model.get("layer1").output().sum().item_double();
            return first + model.get("layer2").output().sum().item_double();
        } finally {
            finallyRuns.incrementAndGet();
        }
    }

    /** Reads {@code layer2}, then {@code layer1}: the second read is out of order and throws here. */
    double outOfOrder() {
        model.get("layer2").output();
        return model.get("layer1").output().sum().item_double();
    }

    /** The other half of {@link #ping}. */
    static final class Pong {
        private Pong() {}

        static double pong(NNsight model, String[] paths, int from) {
            return 2 * ping(model, paths, from);
        }
    }

    /** A reader whose method a subclass may override: bodies calling it stay on continuations. */
    static class Overridable {
        Tensor read(NNsight model, String path) {
            return model.get(path).output();
        }
    }
}
