package io.nnsight.lm;

/**
 * How {@link LanguageModel#generate} picks tokens: how many, greedily or by sampling, and when to stop.
 * Immutable; each method returns a changed copy.
 *
 * <pre>{@code
 * Generation.maxNewTokens(20)                                   // greedy
 * Generation.maxNewTokens(50).temperature(0.8).topP(0.95).seed(1)  // sampling, reproducible
 * }</pre>
 *
 * <p>Each generated token is one step: step 0 runs the prompt, each later step only the newest token (the
 * model keeps the keys and values of earlier tokens in a {@link KvCache}). Generation stops after
 * {@code maxNewTokens} tokens, or earlier once every sequence has produced its end-of-sequence token
 * (finished sequences are padded).
 */
public final class Generation {
    private final int maxNewTokens;
    private final double temperature;
    private final int topK;
    private final double topP;
    private final Long seed;
    private final boolean stopAtEos;

    private Generation(int maxNewTokens, double temperature, int topK, double topP, Long seed, boolean stopAtEos) {
        this.maxNewTokens = maxNewTokens;
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.seed = seed;
        this.stopAtEos = stopAtEos;
    }

    /** Greedy generation of at most {@code count} new tokens, stopping at the end-of-sequence token. */
    public static Generation maxNewTokens(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("maxNewTokens must be at least 1, got " + count);
        }
        return new Generation(count, 0, 0, 1, null, true);
    }

    /** Picks the most likely token at each step (the default). */
    public Generation greedy() {
        return new Generation(maxNewTokens, 0, 0, 1, null, stopAtEos);
    }

    /** Samples tokens from the softmax of the logits divided by {@code temperature} (above 0). */
    public Generation temperature(double temperature) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be above 0 (use greedy() for argmax), got " + temperature);
        }
        return new Generation(maxNewTokens, temperature, topK, topP, seed, stopAtEos);
    }

    /**
     * Samples from only the {@code k} most likely tokens (0 keeps all). Turns sampling on, at temperature 1 unless
     * {@link #temperature} set another, as Hugging Face's {@code top_k} with {@code do_sample=True}.
     */
    public Generation topK(int k) {
        if (k < 0) {
            throw new IllegalArgumentException("topK must be >= 0, got " + k);
        }
        return new Generation(maxNewTokens, sampling() ? temperature : 1, k, topP, seed, stopAtEos);
    }

    /**
     * Samples from the smallest set of most likely tokens whose probability reaches {@code p}. Turns sampling on, at
     * temperature 1 unless {@link #temperature} set another.
     */
    public Generation topP(double p) {
        if (!(p > 0 && p <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + p);
        }
        return new Generation(maxNewTokens, sampling() ? temperature : 1, topK, p, seed, stopAtEos);
    }

    /**
     * Seeds the sampling, so that the same seed generates the same tokens. Turns sampling on, at temperature 1 unless
     * {@link #temperature} set another: {@code maxNewTokens(20).seed(1)} samples; {@code greedy()} after it picks
     * argmax again.
     */
    public Generation seed(long seed) {
        return new Generation(maxNewTokens, sampling() ? temperature : 1, topK, topP, seed, stopAtEos);
    }

    /** Whether to stop a sequence at its end-of-sequence token (default {@code true}). */
    public Generation stopAtEos(boolean stop) {
        return new Generation(maxNewTokens, temperature, topK, topP, seed, stop);
    }

    /** The most tokens to generate. */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /** Whether tokens are sampled rather than picked greedily. */
    public boolean sampling() {
        return temperature > 0;
    }

    /** The sampling temperature; 0 when greedy. */
    public double temperature() {
        return temperature;
    }

    /** The top-k cut-off; 0 for none. */
    public int topK() {
        return topK;
    }

    /** The top-p (nucleus) cut-off; 1 for none. */
    public double topP() {
        return topP;
    }

    /** The sampling seed, or {@code null} for libtorch's global generator. */
    public Long seed() {
        return seed;
    }

    /** Whether a sequence stops at its end-of-sequence token. */
    public boolean stopAtEos() {
        return stopAtEos;
    }

    @Override
    public String toString() {
        return "Generation(maxNewTokens=" + maxNewTokens + (sampling()
                ? ", temperature=" + temperature + ", topK=" + topK + ", topP=" + topP + ", seed=" + seed
                : ", greedy") + ")";
    }
}
