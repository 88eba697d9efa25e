package io.nnsight.models;

import io.nnsight.NNsight;
import io.nnsight.TraceBody;
import org.bytedeco.pytorch.Tensor;

/** Intervention code for the state-machine compiler's tests: one body it rewrites, one class it leaves. */
public final class Bodies {
    private Bodies() {}

    /** A body that reads {@code fc1}'s output: compiled into a state machine. */
    public static TraceBody<Tensor> readFc1(NNsight model) {
        return tr -> model.get("fc1").output();
    }

    /** Uses nnsight without a body to compile. */
    public static final class NoBody {
        private NoBody() {}

        /** The model's root path. */
        public static String root(NNsight model) {
            return model.path();
        }
    }
}
