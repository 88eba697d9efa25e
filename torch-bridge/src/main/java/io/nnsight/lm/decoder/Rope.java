package io.nnsight.lm.decoder;

import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
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
 *   <li>{@code yarn}: YaRN's ({@link Yarn}): frequencies that turn fewer than {@code beta_slow} times over {@code
 *       original_max_position_embeddings} divided by {@code factor}, those that turn more than {@code beta_fast}
 *       times kept, a linear ramp between; cosines and sines scaled by an attention factor.
 *   <li>{@code longrope}: Phi-3's ({@link LongRope}): each frequency divided by its own factor, the short factors'
 *       while the longest position is within {@code original_max_position_embeddings}, the long factors' beyond,
 *       so the frequencies depend on the batch's longest sequence, as for {@code dynamic}; cosines and sines
 *       scaled by an attention factor.
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
 * @param yarn the parameters of {@code yarn}, else {@code null}
 * @param longRope the parameters of {@code longrope}, else {@code null}
 */
public record Rope(String type, double theta, double partialFactor, double factor, double lowFreqFactor,
        double highFreqFactor, int originalMaxPositions, int maxPositions, Yarn yarn, LongRope longRope) {
    /** The rope types implemented. */
    public static final List<String> TYPES = List.of("default", "linear", "dynamic", "llama3", "yarn", "longrope");

    /**
     * YaRN's parameters, as transformers' {@code _compute_yarn_parameters} reads them.
     *
     * @param betaFast {@code beta_fast} (32 unless given): the rotations above which a frequency is kept
     * @param betaSlow {@code beta_slow} (1 unless given): the rotations below which it is divided by the factor
     * @param truncate {@code truncate} (true unless given): whether the ramp's ends are rounded to whole dimensions
     * @param attentionFactor what the cosines and sines are multiplied by: {@code attention_factor}, else from
     *     {@code factor} (and {@code mscale}, {@code mscale_all_dim}), see {@link #attentionFactor(double, Double,
     *     Double)}
     */
    public record Yarn(double betaFast, double betaSlow, boolean truncate, double attentionFactor) {
        /** transformers' default attention factor of YaRN for {@code factor}: {@code get_mscale} as there. */
        public static double attentionFactor(double factor, Double mscale, Double mscaleAllDim) {
            if (mscale != null && mscale != 0 && mscaleAllDim != null && mscaleAllDim != 0) {
                return scale(factor, mscale) / scale(factor, mscaleAllDim);
            }
            return scale(factor, 1);
        }

        private static double scale(double factor, double mscale) {
            return factor <= 1 ? 1.0 : 0.1 * mscale * Math.log(factor) + 1.0;
        }
    }

    /**
     * LongRoPE's parameters, as transformers' {@code _compute_longrope_parameters} reads them.
     *
     * @param shortFactor {@code short_factor}: one divisor per frequency, within {@code
     *     original_max_position_embeddings}
     * @param longFactor {@code long_factor}: one divisor per frequency, beyond it
     * @param attentionFactor what the cosines and sines are multiplied by: {@code attention_factor}, else {@code
     *     sqrt(1 + ln(factor) / ln(original_max_position_embeddings))} for a factor above 1, else 1
     */
    public record LongRope(List<Double> shortFactor, List<Double> longFactor, double attentionFactor) {
        /** Copies the lists and checks that they are as long. */
        public LongRope {
            shortFactor = List.copyOf(shortFactor);
            longFactor = List.copyOf(longFactor);
            if (shortFactor.size() != longFactor.size()) {
                throw new IllegalArgumentException("longrope has " + shortFactor.size() + " short factors but "
                        + longFactor.size() + " long ones; they are one per rotated frequency");
            }
        }

        /** transformers' default attention factor of LongRoPE for {@code factor}. */
        public static double attentionFactor(double factor, int originalMaxPositions) {
            return factor <= 1 ? 1.0 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMaxPositions));
        }
    }

    /** A rope of a type without parameters of its own (not {@code yarn} or {@code longrope}). */
    public Rope(String type, double theta, double partialFactor, double factor, double lowFreqFactor,
            double highFreqFactor, int originalMaxPositions, int maxPositions) {
        this(type, theta, partialFactor, factor, lowFreqFactor, highFreqFactor, originalMaxPositions, maxPositions, null,
                null);
    }

    /** Checks the type, and that {@code yarn} and {@code longrope} have their parameters. */
    public Rope {
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("rope type '" + type + "' is not one of " + TYPES);
        }
        if (type.equals("yarn") != (yarn != null) || type.equals("longrope") != (longRope != null)) {
            throw new IllegalArgumentException("rope type '" + type + "' has parameters of yarn: " + yarn
                    + " and of longrope: " + longRope + "; a yarn or longrope rope has those of its type only");
        }
    }

    /** What the cosines and sines are multiplied by: 1 but for {@code yarn} and {@code longrope}. */
    public double attentionFactor() {
        return yarn != null ? yarn.attentionFactor() : longRope != null ? longRope.attentionFactor() : 1.0;
    }

    /** The number of rotated dimensions of a head of {@code headDim}: transformers' {@code int(head_dim * factor)}. */
    public int rotatedDims(int headDim) {
        return (int) (headDim * partialFactor);
    }

    /** Whether the frequencies depend on the sequence's length ({@code dynamic}, {@code longrope}). */
    public boolean dependsOnLength() {
        return type.equals("dynamic") || type.equals("longrope");
    }

    /** Whether sequences may run past {@code max_position_embeddings} ({@code dynamic}, whose point that is). */
    public boolean unbounded() {
        return type.equals("dynamic");
    }

    /**
     * The inverse frequencies {@code [dim / 2]}, float32, on {@code placement}'s device, for sequences of {@code
     * length} positions (which only {@code dynamic} and {@code longrope} read). They are computed on the host, as for
     * the meta device (a scan), where libtorch has no kernel for some of the operations, and moved.
     *
     * @throws IllegalArgumentException for a {@code longrope} whose factors are not one per rotated frequency
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
        if (type.equals("yarn")) {
            return yarn(torch.pow(new Scalar(base), exponents), dim);
        }
        if (type.equals("longrope")) {
            List<Double> factors = length > originalMaxPositions ? longRope.longFactor() : longRope.shortFactor();
            if (factors.size() != dim / 2) {
                throw new IllegalArgumentException("longrope has " + factors.size() + " factors, but the heads rotate "
                        + dim + " dimensions, so " + dim / 2 + " frequencies");
            }
            float[] values = new float[factors.size()]; // float32, as torch.tensor(factors, dtype=torch.float32)
            for (int i = 0; i < values.length; i++) {
                values[i] = factors.get(i).floatValue();
            }
            Tensor extension = torch.empty(values.length).to(torch.ScalarType.Float);
            extension.data_ptr_float().capacity(values.length).put(values);
            return extension.mul(torch.pow(new Scalar(base), exponents)).reciprocal();
        }
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

    /**
     * transformers' {@code _compute_yarn_parameters}, step by step: the ramp's ends in double precision, as Python
     * computes them, the frequencies in float32. {@code powers} are {@code base^(2i / dim)}.
     */
    private Tensor yarn(Tensor powers, int dim) {
        Tensor extrapolation = powers.reciprocal();
        Tensor interpolation = powers.mul(new Scalar(factor)).reciprocal();
        double low = correctionDimension(yarn.betaFast(), dim);
        double high = correctionDimension(yarn.betaSlow(), dim);
        if (yarn.truncate()) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, dim - 1);
        if (low == high) {
            high += 0.001; // as transformers: no division by zero
        }
        Tensor ramp = torch.arange(new Scalar(dim / 2)).to(torch.ScalarType.Float).sub(new Scalar(low))
                .div(new Scalar(high - low)).clamp(new ScalarOptional(new Scalar(0.0)),
                        new ScalarOptional(new Scalar(1.0)));
        Tensor kept = ramp.neg().add(new Scalar(1)); // 1 - ramp: how much of each frequency is extrapolated
        return interpolation.mul(kept.neg().add(new Scalar(1))).add(extrapolation.mul(kept));
    }

    /** The dimension whose frequency turns {@code rotations} times over {@code original_max_position_embeddings}. */
    private double correctionDimension(double rotations, int dim) {
        return dim * Math.log(originalMaxPositions / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
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
