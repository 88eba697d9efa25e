package io.nnsight.models;

import io.nnsight.Envoy;
import io.nnsight.NNsight;
import org.bytedeco.pytorch.Tensor;

/** Helpers in a class of their own that intervention bodies elsewhere call: the call graph follows them. */
public final class Probes {
    private Probes() {}

    /** Reads one module's output: may suspend. */
    public static Tensor read(NNsight model, String path) {
        return model.get(path).output();
    }

    /** Reads the outputs of {@code paths[from..]}, summed, recursively: may suspend at every level. */
    public static Tensor readDown(NNsight model, String[] paths, int from) {
        Tensor here = model.get(paths[from]).output();
        return from + 1 == paths.length ? here : here.add(readDown(model, paths, from + 1));
    }

    /** Ping-pong through another class and back: mutual recursion across classes. */
    public static Tensor ping(NNsight model, String[] paths, int from) {
        Tensor here = model.get(paths[from]).output();
        return from + 1 == paths.length ? here : here.add(Pong.pong(model, paths, from + 1));
    }

    /** Reads under a lock: may suspend, and cannot be compiled. */
    public static synchronized Tensor readLocked(NNsight model, String path) {
        return model.get(path).output();
    }

    /** The path of a module: never suspends. */
    public static String pathOf(Envoy envoy) {
        return envoy.path();
    }

    /** The other half of {@link #ping}. */
    public static final class Pong {
        private Pong() {}

        static Tensor pong(NNsight model, String[] paths, int from) {
            return ping(model, paths, from);
        }
    }

    /** A probe whose {@code read} a subclass may override. */
    public static class Overridable {
        /** Reads one module's output. */
        public Tensor read(NNsight model, String path) {
            return model.get(path).output();
        }
    }
}
