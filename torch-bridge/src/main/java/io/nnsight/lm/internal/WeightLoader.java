package io.nnsight.lm.internal;

import io.nnsight.Tensors;
import io.nnsight.lm.decoder.DecoderForCausalLM;
import io.nnsight.lm.families.Family;
import io.nnsight.safetensors.DType;
import io.nnsight.safetensors.TensorInfo;
import io.nnsight.safetensors.Weights;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

/**
 * Fills a model's parameters from a model folder's safetensors checkpoint (one file or shards), matched by Hugging
 * Face name: memory-mapped where the stored type is the one the model runs in on the CPU (the parameter's memory
 * is then the file's, shared with the operating system's file cache: loading costs no copy), read, converted and
 * moved to the device otherwise, one tensor at a time. The experts of an MXFP4 checkpoint (GPT-OSS's) are dequantized
 * as they load ({@link Mxfp4}).
 */
public final class WeightLoader {
    /** How many names of each kind an error lists. */
    private static final int LISTED = 5;
    /** The suffixes of an MXFP4 parameter's two stored tensors ({@link Mxfp4}). */
    private static final String BLOCKS = "_blocks";
    private static final String SCALES = "_scales";

    private WeightLoader() {}

    /**
     * Loads every parameter of {@code model} from the checkpoint in {@code folder}.
     *
     * @param family how the family's checkpoints name the weights
     * @throws IllegalArgumentException when the weight files are missing or unreadable, when parameters have no
     *     weight or the checkpoint has weights the model has no parameter for (the message lists the first few of
     *     each), or when a weight has the wrong shape
     */
    public static void load(DecoderForCausalLM model, Family family, Path folder) {
        try (Weights weights = Weights.open(folder); PointerScope scope = new PointerScope();
                NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, List<String>> parts = new LinkedHashMap<>();
            Map<String, Set<String>> packed = new LinkedHashMap<>();
            Map<String, String> sources = match(model, family, weights, parts, packed);
            StringTensorDict parameters = model.named_parameters(true);
            for (long i = 0; i < parameters.size(); i++) {
                String name = parameters.get(i).key().getString();
                String source = sources.get(name);
                if (source != null) {
                    fill(parameters.get(i).value(), weights, source);
                }
                for (String part : parts.getOrDefault(name, List.of())) {
                    fillPart(parameters.get(i).value(), weights, part, family.part(part));
                }
                if (packed.containsKey(name)) {
                    Mxfp4.dequantizeInto(parameters.get(i).value(), weights.mapped(name + BLOCKS),
                            weights.mapped(name + SCALES), name);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot load the weights of " + folder + ": " + e.getMessage(), e);
        }
    }

    /**
     * The type of the first floating-point tensor of the checkpoint in {@code folder}: the type transformers loads a
     * model in when its config does not say; {@code null} when there is none.
     */
    public static DType storedType(Path folder) {
        try (Weights weights = Weights.open(folder)) {
            for (String name : weights.names()) {
                if (weights.info(name).dtype().isFloatingPoint()) {
                    return weights.info(name).dtype();
                }
            }
            return null;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the weights of " + folder + ": " + e.getMessage(), e);
        }
    }

    /**
     * For each parameter to fill, the checkpoint's name of its weight, or in {@code parts} the names of the tensors
     * that fill its parts ({@link Family#part}), or in {@code packed} the parameters stored in MXFP4, by the suffix
     * ({@code _blocks} or {@code _scales}) of each of their tensors found (a family whose {@link Family#quantization()}
     * is {@code mxfp4}); refuses a checkpoint that does not fit.
     */
    private static Map<String, String> match(DecoderForCausalLM model, Family family, Weights weights,
            Map<String, List<String>> parts, Map<String, Set<String>> packed) {
        Map<String, Long> parameters = new LinkedHashMap<>(); // each parameter's first dimension, by name
        StringTensorDict named = model.named_parameters(true);
        for (long i = 0; i < named.size(); i++) {
            Tensor parameter = named.get(i).value();
            parameters.put(named.get(i).key().getString(), parameter.dim() == 0 ? 1 : parameter.size(0));
        }
        String tiedHead = model.tiesOutputToEmbedding() ? family.paths().lmHead() + ".weight" : null;
        String base = family.paths().layers().substring(0, family.paths().layers().indexOf('.') + 1);
        Map<String, String> sources = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>();
        boolean mxfp4 = "mxfp4".equals(family.quantization());
        for (String name : weights.names()) {
            String suffix = !mxfp4 ? null : name.endsWith(BLOCKS) ? BLOCKS : name.endsWith(SCALES) ? SCALES : null;
            String stored = suffix == null ? null : name.substring(0, name.length() - suffix.length());
            if (stored != null && parameters.containsKey(stored)) {
                packed.computeIfAbsent(stored, key -> new HashSet<>()).add(suffix);
                continue;
            }
            Family.Part part = family.part(name);
            if (part != null && parameters.containsKey(part.parameter())) {
                parts.computeIfAbsent(part.parameter(), key -> new ArrayList<>()).add(name);
                continue;
            }
            String parameter = family.parameterName(name);
            if (!parameters.containsKey(parameter) && parameters.containsKey(base + parameter)) {
                parameter = base + parameter; // a checkpoint of the decoder alone (GPT-2's h.0.attn...)
            }
            if (parameter.equals(tiedHead)) {
                continue; // the embedding's weight, which transformers ties
            }
            if (parameters.containsKey(parameter)) {
                sources.put(parameter, name);
            } else if (!family.ignores(name)) {
                unexpected.add(name);
            }
        }
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, Long> parameter : parameters.entrySet()) {
            String name = parameter.getKey();
            List<String> filling = parts.get(name);
            boolean whole = filling != null && filling.size() == family.part(filling.get(0)).chunks() * parameter.getValue();
            boolean bothPacked = packed.getOrDefault(name, Set.of()).size() == 2;
            if (!sources.containsKey(name) && !name.equals(tiedHead) && !whole && !bothPacked) {
                missing.add(name); // a stacked parameter some of whose parts the checkpoint lacks, too
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new IllegalArgumentException(weights + " does not fit the " + family.modelType() + " model its config "
                    + "describes: " + (missing.isEmpty() ? "" : missing.size() + " parameters have no weight (" + first(missing)
                    + ")" + (unexpected.isEmpty() ? "" : "; ")) + (unexpected.isEmpty() ? "" : unexpected.size()
                    + " weights fill no parameter (" + first(unexpected) + ")") + ". Does the checkpoint belong to this "
                    + "architecture and config.json?");
        }
        return sources;
    }

    private static String first(List<String> names) {
        return String.join(", ", names.subList(0, Math.min(LISTED, names.size()))) + (names.size() > LISTED ? ", ..." : "");
    }

    /** Copies the stored tensor {@code name} into {@code part} of {@code parameter}, converting it to its type. */
    private static void fillPart(Tensor parameter, Weights weights, String name, Family.Part part) {
        long rows = parameter.size(1) / part.chunks();
        Tensor target = parameter.select(0, part.index()).narrow(0, part.chunk() * rows, rows);
        TensorInfo stored = weights.info(name);
        if (part.index() >= parameter.size(0) || !Arrays.equals(stored.shape(), Tensors.shape(target))) {
            throw new IllegalArgumentException(weights + ": tensor \"" + name + "\" has shape "
                    + Arrays.toString(stored.shape()) + " but its part of the model's parameter " + part.parameter()
                    + " " + Arrays.toString(Tensors.shape(parameter)) + " has shape " + Arrays.toString(Tensors.shape(target))
                    + "; does config.json describe this checkpoint?");
        }
        weights.copyInto(name, target);
    }

    /**
     * Makes {@code parameter} the stored tensor {@code name}: the file's mapped pages when the types match on the CPU;
     * otherwise read into a temporary of the stored type and converted (and moved) into the parameter, one tensor at a
     * time, so that the checkpoint's pages never pile up beside the converted model.
     */
    private static void fill(Tensor parameter, Weights weights, String name) {
        TensorInfo stored = weights.info(name);
        if (!Arrays.equals(stored.shape(), Tensors.shape(parameter))) {
            throw new IllegalArgumentException(weights + ": tensor \"" + name + "\" has shape "
                    + Arrays.toString(stored.shape()) + " but the model's parameter has shape "
                    + Arrays.toString(Tensors.shape(parameter)) + "; does config.json describe this checkpoint?");
        }
        if (stored.dtype() == DType.of(parameter.scalar_type()) && parameter.device().is_cpu()) {
            parameter.set_data(weights.mapped(name));
        } else {
            weights.copyInto(name, parameter);
        }
    }
}
