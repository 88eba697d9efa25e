package io.nnsight.lm.decoder;

import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Rotary position embeddings' parameters, as transformers' {@code rope_parameters} holds them, and the inverse
 * frequencies they give (transformers' {@code modeling_rope_utils.py}, computed in float32 as there).
 *
 * <ul>
 *   <li>{@code default}: {@code 1 / theta^(2i / dim)} for the rotated dimensions {@code dim = head_dim *
 *       partial_rotary_factor}.
 *   <li>{@code linear}: the default frequencies divided by {@code factor} (positions interpolated).
 *   <li>{@code dynamic}: NTK-aware scaling: within {@code max_position_embeddings} the default frequencies;
 *       beyond, {@code theta} grows with the sequence, {@code theta * (factor * length / max - (factor - 1))^(dim /
 *       (dim - 2))}, recomputed for each forward pass from its longest position.
 *   <li>{@code llama3}: Llama 3.1's: low frequencies (wavelength above {@code original_max_position_embeddings /
 *       low_freq_factor}) divided by {@code factor}, high ones kept, those between interpolated smoothly.
 * </ul>
 *
 * @param type {@code rope_type}: one of {@link #TYPES}
 * @param theta {@code rope_theta}, the base
 * @param partialFactor {@code partial_rotary_factor}: the fraction of each head's dimensions rotated (1 for all)
 * @param factor {@code factor} of the scaled types (1 for {@code default})
 * @param lowFreqFactor {@code low_freq_factor} ({@code llama3})
 * @param highFreqFactor {@code high_freq_factor} ({@code llama3})
 * @param originalMaxPositions {@code original_max_position_embeddings} ({@code llama3})
 * @param maxPositions {@code max_position_embeddings} ({@code dynamic})
 */
public record Rope(String type, double theta, double partialFactor, double factor, double lowFreqFactor,
        double highFreqFactor, int originalMaxPositions, int maxPositions) {
    /** The rope types implemented. */
    public static final List<String> TYPES = List.of("default", "linear", "dynamic", "llama3");

    public Rope {
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("rope type '" + type + "' is not one of " + TYPES);
        }
    }

    /** The number of rotated dimensions of a head of {@code headDim}: transformers' {@code int(head_dim * factor)}. */
    public int rotatedDims(int headDim) {
        return (int) (headDim * partialFactor);
    }

    /** Whether the frequencies depend on the sequence's length ({@code dynamic}). */
    public boolean dependsOnLength() {
        return type.equals("dynamic");
    }

    /**
     * The inverse frequencies {@code [dim / 2]}, float32, on {@code placement}'s device, for sequences of {@code
     * length} positions (which only {@code dynamic} reads). They are computed on the host, as for the meta device
     * (a scan), where libtorch has no kernel for some of the operations, and moved.
     */
    public Tensor inverseFrequencies(int headDim, long length, Placement placement) {
        return placement.onDevice(inverseFrequencies(headDim, length));
    }

    private Tensor inverseFrequencies(int headDim, long length) {
        int dim = rotatedDims(headDim);
        double base = theta;
        if (type.equals("dynamic") && length > maxPositions) {
            base = theta * Math.pow(factor * length / maxPositions - (factor - 1), dim / (dim - 2.0));
        }
        Tensor exponents = torch.arange(new Scalar(0), new Scalar(dim), new Scalar(2))
                .to(torch.ScalarType.Float).div(new Scalar((double) dim));
        Tensor inverse = torch.pow(new Scalar(base), exponents).reciprocal();
        switch (type) {
            case "linear":
                return inverse.div(new Scalar(factor));
            case "llama3":
                return llama3(inverse);
            default:
                return inverse;
        }
    }

    /** transformers' {@code _compute_llama3_parameters}, step by step in float32. */
    private Tensor llama3(Tensor inverse) {
        double lowFreqWavelength = originalMaxPositions / lowFreqFactor;
        double highFreqWavelength = originalMaxPositions / highFreqFactor;
        Tensor wavelength = inverse.reciprocal().mul(new Scalar(2 * Math.PI));
        Tensor low = wavelength.gt(new Scalar(lowFreqWavelength));
        Tensor scaled = torch.where(low, inverse.div(new Scalar(factor)), inverse);
        Tensor smooth = wavelength.reciprocal().mul(new Scalar((double) originalMaxPositions))
                .sub(new Scalar(lowFreqFactor)).div(new Scalar(highFreqFactor - lowFreqFactor));
        Tensor smoothed = smooth.neg().add(new Scalar(1)).mul(scaled).div(new Scalar(factor)).add(smooth.mul(scaled));
        Tensor medium = wavelength.lt(new Scalar(highFreqWavelength)).logical_not().logical_and(low.logical_not());
        return torch.where(medium, smoothed, scaled);
    }
}
