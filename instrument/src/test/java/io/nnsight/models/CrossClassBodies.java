package io.nnsight.models;

import io.nnsight.NNsight;
import io.nnsight.TraceBody;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/** Intervention bodies that call {@link Probes}: one per case of the call graph's tests. */
public final class CrossClassBodies {
    private CrossClassBodies() {}

    public static TraceBody<Tensor> viaStaticHelper(NNsight model) {
        return tr -> Probes.read(model, "fc1");
    }

    public static TraceBody<Tensor> viaRecursiveHelper(NNsight model) {
        return tr -> Probes.readDown(model, new String[] {"fc1", "fc2"}, 0);
    }

    public static TraceBody<Tensor> viaMutualRecursion(NNsight model) {
        return tr -> Probes.ping(model, new String[] {"fc1", "fc2"}, 0);
    }

    public static TraceBody<Tensor> viaSynchronizedHelper(NNsight model) {
        return tr -> Probes.readLocked(model, "fc1");
    }

    public static TraceBody<Tensor> viaOverridableMethod(NNsight model, Probes.Overridable probe) {
        return tr -> probe.read(model, "fc1");
    }

    public static TraceBody<String> viaHelperThatNeverSuspends(NNsight model) {
        return tr -> Probes.pathOf(model.get("fc1")) + model.get("fc2").output().size(0);
    }

    public static TraceBody<Integer> viaForEach(NNsight model) {
        return tr -> {
            int[] rows = {0};
            List.of("fc1", "fc2").forEach(path -> rows[0] += (int) model.get(path).output().size(0));
            return rows[0];
        };
    }
}
