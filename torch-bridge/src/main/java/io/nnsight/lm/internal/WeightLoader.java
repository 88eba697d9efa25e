package io.nnsight.lm.internal;

import io.nnsight.safetensors.Weights;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Copies a model folder's safetensors weights into a model's parameters, matched by Hugging Face name. */
public final class WeightLoader {
    private static final Logger LOG = LoggerFactory.getLogger(WeightLoader.class);

    private WeightLoader() {}

    /**
     * Loads every parameter of {@code model} from the weights in {@code folder}.
     *
     * @param tiedOutput whether the model's {@code lm_head.weight} is its embedding's, which checkpoints omit
     * @throws IllegalArgumentException when the weight files are missing or unreadable, or weights are missing
     *     or have the wrong shape; the message names them and the folder
     */
    public static void load(Module model, Path folder, boolean tiedOutput) {
        try (Weights weights = Weights.open(folder)) {
            Set<String> unused = new LinkedHashSet<>(weights.names());
            List<String> missing = new ArrayList<>();
            StringTensorDict parameters = model.named_parameters(true);
            for (long i = 0; i < parameters.size(); i++) {
                String name = parameters.get(i).key().getString();
                if (weights.names().contains(name)) {
                    weights.copyInto(name, parameters.get(i).value());
                    unused.remove(name);
                } else if (!(tiedOutput && name.equals("lm_head.weight"))) {
                    missing.add(name);
                }
            }
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException(weights + " has no weights for " + missing.size() + " of the model's "
                        + "parameters: " + String.join(", ", missing.subList(0, Math.min(5, missing.size())))
                        + (missing.size() > 5 ? ", ..." : "") + "; does the checkpoint belong to this architecture?");
            }
            unused.remove("lm_head.weight");
            if (!unused.isEmpty()) {
                LOG.debug("{} holds {} tensors the model does not use: {}", folder, unused.size(), unused);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot load the weights of " + folder + ": " + e.getMessage(), e);
        }
    }
}
