package io.nnsight.lm.decoder;

import io.nnsight.lm.ModulePaths;
import io.nnsight.nn.Conv1D;
import io.nnsight.nn.Linear;
import io.nnsight.nn.HookedModule;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.IntPredicate;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntUnaryOperator;

/**
 * One decoder-only transformer, described for the shared blocks that build it: its sizes, Hugging Face's name
 * of every module, and the options by which architectures differ. A family is this description, read from a
 * {@code config.json}; {@link DecoderForCausalLM} builds the model from it.
 *
 * <p>The builder starts from Llama's layout, which most families share, and each method states one way a
 * family departs from it. Qwen 3, for one:
 *
 * <pre>{@code
 * DecoderSpec.builder("Qwen3", new ModulePaths("model.embed_tokens", "model.layers", "self_attn", "mlp",
 *                 "model.norm", "lm_head"))
 *         .sizes(vocab, hidden, intermediate, layers, heads, keyValueHeads, headDim, maxPositions)
 *         .norm(new Norm(Norm.Kind.RMS, 1e-6))
 *         .rope(new Rope("default", 1e6, 1, 1, 0, 0, maxPositions, maxPositions))
 *         .queryKeyNorms("q_norm", "k_norm")            // RMS norms over each head's queries and keys
 *         .tiedHead(true)
 *         .build();
 * }</pre>
 *
 * <p>The Llama layout: {@code model.embed_tokens}, layers of {@code self_attn} ({@code q_proj}, {@code k_proj},
 * {@code v_proj}, {@code o_proj}, no biases), {@code mlp} ({@code gate_proj}, {@code up_proj}, {@code down_proj},
 * {@code act_fn}: {@code down(act(gate(x)) * up(x))}), {@code input_layernorm} before the attention and {@code
 * post_attention_layernorm} before the MLP, each block added to the residual stream in turn; {@code model.norm};
 * {@code model.rotary_emb}; {@code lm_head}. Attention scaled by {@code 1 / sqrt(head_dim)}, causal, over every
 * earlier token.
 */
public final class DecoderSpec {
    /** How a fused projection lays out queries, keys and values along its outputs. */
    public enum QkvLayout {
        /** Three projections. */
        SEPARATE,
        /** One projection: all queries, then all keys, then all values (Phi-3's {@code qkv_proj}, GPT-2's {@code c_attn}). */
        CONCATENATED,
        /** One projection: for each head its query, key and value (GPT-NeoX's {@code query_key_value}). */
        PER_HEAD
    }

    /** How a layer adds its blocks to the residual stream. */
    public enum Residual {
        /** {@code h = h + attn(norm(h)); h = h + mlp(norm(h))}. */
        SEQUENTIAL,
        /** {@code h = h + attn(norm1(h)) + mlp(norm2(h))}: both blocks read the layer's input (GPT-NeoX, GPT-J). */
        PARALLEL
    }

    final String family;
    final ModulePaths paths;
    final String model;
    final long vocabSize;
    final long hiddenSize;
    final long intermediateSize;
    final int layers;
    final int heads;
    final int keyValueHeads;
    final int headDim;
    final int maxPositions;
    final Norm norm;
    final Activation activation;
    final Rope rope;
    /** The rotary embeddings of the layers {@link #localLayers} marks, or {@code null} when every layer takes {@link #rope}. */
    final Rope localRope;
    final boolean[] localLayers;
    final String positionEmbedding;
    final String embeddingDropout;
    final Double embeddingScale;
    final boolean conv1d;
    final QkvLayout qkvLayout;
    final List<String> qkvNames;
    final String attentionOutput;
    final boolean qkvBias;
    final boolean outputBias;
    final String queryNorm;
    final String keyNorm;
    final boolean projectionNorms;
    final String probabilitiesDropout;
    final String attentionOutputDropout;
    final double[] scalings;
    final Double attentionSoftcap;
    /** Whether each head's softmax has a learned sink ({@code self_attn.sinks}: GPT-OSS). */
    final boolean attentionSinks;
    /** Whether {@code rotary_emb} gives the cosines and sines of one half of the rotated dimensions (GPT-OSS). */
    final boolean halfRotaryOutput;
    final int[] windows;
    final boolean gatedMlp;
    /** The layers' mixture of experts, or {@code null} when every layer has an MLP. */
    final MixtureOfExperts moe;
    /** Which layers have the mixture of experts in place of their MLP. */
    final boolean[] moeLayers;
    /** Where queries, keys and values are clipped to ({@code [-clip, clip]}), or {@code null}. */
    final Double clipQkv;
    final List<String> mlpNames;
    final String activationName;
    final boolean mlpBias;
    final String mlpDropout;
    final String beforeAttention;
    final String afterAttention;
    final String beforeMlp;
    final String afterMlp;
    final String attentionResidualDropout;
    final String mlpResidualDropout;
    final Residual residual;
    final boolean tiedHead;
    final Double finalSoftcap;
    final double dropout;

    private DecoderSpec(Builder b) {
        this.family = b.family;
        this.paths = b.paths;
        this.model = parent(b.paths.embedding());
        this.vocabSize = b.vocabSize;
        this.hiddenSize = b.hiddenSize;
        this.intermediateSize = b.intermediateSize;
        this.layers = b.layers;
        this.heads = b.heads;
        this.keyValueHeads = b.keyValueHeads;
        this.headDim = b.headDim;
        this.maxPositions = b.maxPositions;
        this.norm = b.norm;
        this.activation = b.activation;
        this.rope = b.rope;
        this.localRope = b.localRope;
        this.localLayers = new boolean[b.layers];
        this.moeLayers = new boolean[b.layers];
        this.positionEmbedding = b.positionEmbedding;
        this.embeddingDropout = b.embeddingDropout;
        this.embeddingScale = b.embeddingScale;
        this.conv1d = b.conv1d;
        this.qkvLayout = b.qkvLayout;
        this.qkvNames = b.qkvNames;
        this.attentionOutput = b.attentionOutput;
        this.qkvBias = b.qkvBias;
        this.outputBias = b.outputBias;
        this.queryNorm = b.queryNorm;
        this.keyNorm = b.keyNorm;
        this.projectionNorms = b.projectionNorms;
        this.probabilitiesDropout = b.probabilitiesDropout;
        this.attentionOutputDropout = b.attentionOutputDropout;
        this.scalings = new double[b.layers];
        this.windows = new int[b.layers];
        for (int i = 0; i < b.layers; i++) {
            scalings[i] = b.scaling.applyAsDouble(i);
            windows[i] = b.window.applyAsInt(i);
            localLayers[i] = b.localRope != null && b.localLayer.test(i);
            moeLayers[i] = b.moe != null && b.moeLayer.test(i);
        }
        this.attentionSoftcap = b.attentionSoftcap;
        this.attentionSinks = b.attentionSinks;
        this.halfRotaryOutput = b.halfRotaryOutput;
        this.gatedMlp = b.gatedMlp;
        this.moe = b.moe;
        this.clipQkv = b.clipQkv;
        this.mlpNames = b.mlpNames;
        this.activationName = b.activationName;
        this.mlpBias = b.mlpBias;
        this.mlpDropout = b.mlpDropout;
        this.beforeAttention = b.beforeAttention;
        this.afterAttention = b.afterAttention;
        this.beforeMlp = b.beforeMlp;
        this.afterMlp = b.afterMlp;
        this.attentionResidualDropout = b.attentionResidualDropout;
        this.mlpResidualDropout = b.mlpResidualDropout;
        this.residual = b.residual;
        this.tiedHead = b.tiedHead;
        this.finalSoftcap = b.finalSoftcap;
        this.dropout = b.dropout;
    }

    /**
     * A builder with Llama's layout (see the class description), for the family named {@code family} (the
     * prefix of its modules' described class names: {@code Qwen3DecoderLayer}) whose main modules are at
     * {@code paths}.
     */
    public static Builder builder(String family, ModulePaths paths) {
        return new Builder(family, paths);
    }

    /**
     * The most tokens a sequence may have: {@code max_position_embeddings}, unbounded for {@code dynamic} rotary
     * scaling, whose point is to run past it.
     */
    public int contextLength() {
        return rope != null && rope.unbounded() && (localRope == null || localRope.unbounded()) ? Integer.MAX_VALUE
                : maxPositions;
    }

    /** The rotary embeddings of layer {@code layer}, or {@code null} for learned positions. */
    Rope ropeOf(int layer) {
        return localLayers[layer] ? localRope : rope;
    }

    /** Whether a rotation depends on the length of the sequences ({@link Rope#dependsOnLength}). */
    boolean rotationDependsOnLength() {
        return rope != null && rope.dependsOnLength() || localRope != null && localRope.dependsOnLength();
    }

    /**
     * A projection from {@code in} to {@code out} features, its weights uninitialised until loaded: a {@link
     * Linear}, or a {@link Conv1D}, each a {@link io.nnsight.nn.TensorModule}.
     */
    HookedModule projection(long in, long out, boolean bias, Placement placement) {
        if (conv1d) {
            return new Conv1D(placement.parameter(in, out), placement.parameter(out));
        }
        return new Linear(placement.parameter(out, in), bias ? placement.parameter(out) : null);
    }

    private static String parent(String path) {
        int dot = path.lastIndexOf('.');
        return dot < 0 ? "" : path.substring(0, dot);
    }

    private static String child(String path) {
        return path.substring(path.lastIndexOf('.') + 1);
    }

    String embeddingName() {
        return child(paths.embedding());
    }

    String layersName() {
        return child(paths.layers());
    }

    String finalNormName() {
        return child(paths.finalNorm());
    }

    /** Builds a {@link DecoderSpec}; every method returns this builder. */
    public static final class Builder {
        private final String family;
        private final ModulePaths paths;
        private long vocabSize;
        private long hiddenSize;
        private long intermediateSize;
        private int layers;
        private int heads;
        private int keyValueHeads;
        private int headDim;
        private int maxPositions;
        private Norm norm = new Norm(Norm.Kind.RMS, 1e-6);
        private Activation activation = Activation.SILU;
        private Rope rope;
        private Rope localRope;
        private IntPredicate localLayer;
        private String positionEmbedding;
        private String embeddingDropout;
        private Double embeddingScale;
        private boolean conv1d;
        private QkvLayout qkvLayout = QkvLayout.SEPARATE;
        private List<String> qkvNames = List.of("q_proj", "k_proj", "v_proj");
        private String attentionOutput = "o_proj";
        private boolean qkvBias;
        private boolean outputBias;
        private String queryNorm;
        private String keyNorm;
        private boolean projectionNorms;
        private String probabilitiesDropout;
        private String attentionOutputDropout;
        private IntToDoubleFunction scaling;
        private Double attentionSoftcap;
        private boolean attentionSinks;
        private boolean halfRotaryOutput;
        private IntUnaryOperator window = layer -> 0;
        private boolean gatedMlp = true;
        private MixtureOfExperts moe;
        private IntPredicate moeLayer;
        private Double clipQkv;
        private List<String> mlpNames = List.of("gate_proj", "up_proj", "down_proj");
        private String activationName = "act_fn";
        private boolean mlpBias;
        private String mlpDropout;
        private String beforeAttention = "input_layernorm";
        private String afterAttention;
        private String beforeMlp = "post_attention_layernorm";
        private String afterMlp;
        private String attentionResidualDropout;
        private String mlpResidualDropout;
        private Residual residual = Residual.SEQUENTIAL;
        private boolean tiedHead;
        private Double finalSoftcap;
        private double dropout;

        private Builder(String family, ModulePaths paths) {
            this.family = Objects.requireNonNull(family, "family");
            this.paths = Objects.requireNonNull(paths, "paths");
            String model = parent(paths.embedding());
            if (!parent(paths.layers()).equals(model) || !parent(paths.finalNorm()).equals(model) || model.isEmpty()
                    || model.indexOf('.') != model.lastIndexOf('.') || paths.lmHead().contains(".")
                    || paths.attention().contains(".") || paths.mlp().contains(".")) {
                throw new IllegalArgumentException(paths + ": the embedding, layers and final norm must be children of "
                        + "one module of the root (model) or of its child (model.language_model, in an image-text "
                        + "model), and the head, a layer's attention and MLP direct children");
            }
        }

        /**
         * The sizes.
         *
         * @param headDim the width of one attention head ({@code head_dim}, often {@code hidden / heads})
         * @param maxPositions {@code max_position_embeddings}
         */
        public Builder sizes(long vocabSize, long hiddenSize, long intermediateSize, int layers, int heads,
                int keyValueHeads, int headDim, int maxPositions) {
            if (heads <= 0 || keyValueHeads <= 0 || heads % keyValueHeads != 0) {
                throw new IllegalArgumentException("the attention heads (" + heads + ") must be a multiple of the key "
                        + "and value heads (" + keyValueHeads + ")");
            }
            this.vocabSize = vocabSize;
            this.hiddenSize = hiddenSize;
            this.intermediateSize = intermediateSize;
            this.layers = layers;
            this.heads = heads;
            this.keyValueHeads = keyValueHeads;
            this.headDim = headDim;
            this.maxPositions = maxPositions;
            return this;
        }

        /** The norm of every norm module (default: Llama's RMS norm, eps 1e-6). */
        public Builder norm(Norm norm) {
            this.norm = Objects.requireNonNull(norm, "norm");
            return this;
        }

        /** The MLP's activation (default SiLU). */
        public Builder activation(Activation activation) {
            this.activation = Objects.requireNonNull(activation, "activation");
            return this;
        }

        /** Rotary position embeddings, computed by the module {@code rotary_emb} (a model needs them or {@link #learnedPositions}). */
        public Builder rope(Rope rope) {
            this.rope = Objects.requireNonNull(rope, "rope");
            return this;
        }

        /**
         * Other rotary embeddings for the layers {@code localLayer} marks, the others keeping {@link #rope}'s: the
         * module {@code rotary_emb} then computes each kind once per forward pass, full layers' first (Gemma 3's
         * sliding-window layers rotate over a base of 10,000, its full layers over 1,000,000 and scaled).
         */
        public Builder localRope(Rope rope, IntPredicate localLayer) {
            this.localRope = Objects.requireNonNull(rope, "rope");
            this.localLayer = Objects.requireNonNull(localLayer, "localLayer");
            return this;
        }

        /** Learned absolute positions instead of rotary ones: an embedding {@code name} added to the tokens' (GPT-2's {@code wpe}). */
        public Builder learnedPositions(String name) {
            this.positionEmbedding = Objects.requireNonNull(name, "name");
            this.rope = null;
            this.localRope = null;
            return this;
        }

        /** A dropout {@code name} after the embeddings (GPT-2's {@code drop}); identity in evaluation. */
        public Builder embeddingDropout(String name) {
            this.embeddingDropout = name;
            return this;
        }

        /** Multiplies the token embeddings by {@code scale}, rounded to the weights' type (Gemma: {@code sqrt(hidden)}). */
        public Builder embeddingScale(double scale) {
            this.embeddingScale = scale;
            return this;
        }

        /** Projections stored as GPT-2's {@code Conv1D}, weight {@code [in, out]}, instead of {@code Linear}. */
        public Builder conv1d() {
            this.conv1d = true;
            return this;
        }

        /** One projection {@code name} for queries, keys and values, laid out as {@code layout}. */
        public Builder fusedQkv(String name, QkvLayout layout) {
            if (layout == QkvLayout.SEPARATE) {
                throw new IllegalArgumentException("a fused projection is CONCATENATED or PER_HEAD");
            }
            this.qkvLayout = layout;
            this.qkvNames = List.of(name);
            return this;
        }

        /** The attention's output projection (default {@code o_proj}). */
        public Builder attentionOutput(String name) {
            this.attentionOutput = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Biases on the query, key and value projections, and on the output projection (default: none). */
        public Builder attentionBias(boolean qkv, boolean output) {
            this.qkvBias = qkv;
            this.outputBias = output;
            return this;
        }

        /** RMS norms over each head's queries and keys before the rotation (Qwen 3's {@code q_norm}, {@code k_norm}). */
        public Builder queryKeyNorms(String queryNorm, String keyNorm) {
            this.queryNorm = Objects.requireNonNull(queryNorm, "queryNorm");
            this.keyNorm = Objects.requireNonNull(keyNorm, "keyNorm");
            this.projectionNorms = false;
            return this;
        }

        /**
         * RMS norms over the whole query and key projections, all heads at once, before the rotation (OLMo 2's {@code
         * q_norm} over {@code heads * head_dim} features, {@code k_norm} over {@code kv_heads * head_dim}).
         */
        public Builder projectionNorms(String queryNorm, String keyNorm) {
            queryKeyNorms(queryNorm, keyNorm);
            this.projectionNorms = true;
            return this;
        }

        /** Dropouts on the attention probabilities and on the attention's output (GPT-2's {@code attn_dropout}, {@code resid_dropout}). */
        public Builder attentionDropouts(String probabilities, String output) {
            this.probabilitiesDropout = probabilities;
            this.attentionOutputDropout = output;
            return this;
        }

        /** The factor of the attention scores in every layer (default {@code 1 / sqrt(head_dim)}). */
        public Builder attentionScale(double scale) {
            return attentionScale(layer -> scale);
        }

        /** The factor of the attention scores of each layer (GPT-2 can divide it by the layer's number). */
        public Builder attentionScale(IntToDoubleFunction scaleOfLayer) {
            this.scaling = Objects.requireNonNull(scaleOfLayer, "scaleOfLayer");
            return this;
        }

        /** Soft-caps the attention scores at {@code cap}: {@code cap * tanh(scores / cap)} (Gemma 2); {@code null} for none. */
        public Builder attentionSoftcap(Double cap) {
            this.attentionSoftcap = cap;
            return this;
        }

        /**
         * A learned sink per head ({@code self_attn.sinks}, GPT-OSS): a logit that joins each query's scores in the
         * softmax and is then dropped, so that a query may attend to less than all of its keys. The attention then
         * always computes its probabilities ({@link AttentionProbs}), as transformers' eager attention does.
         */
        public Builder attentionSinks() {
            this.attentionSinks = true;
            return this;
        }

        /**
         * {@code rotary_emb}'s cosines and sines cover one half of the rotated dimensions, as GPT-OSS's do (each
         * half of a head rotates by the same angles); by default they cover all of them, the halves repeated.
         */
        public Builder halfRotaryOutput() {
            this.halfRotaryOutput = true;
            return this;
        }

        /**
         * The sliding window of each layer's attention: a query attends to itself and the {@code window - 1}
         * tokens before it; 0 for every earlier token (the default).
         */
        public Builder windows(IntUnaryOperator windowOfLayer) {
            this.window = Objects.requireNonNull(windowOfLayer, "windowOfLayer");
            return this;
        }


        /** A gated MLP whose gate and up projections are one, {@code name}, gate first (Phi-3's {@code gate_up_proj}). */
        public Builder fusedGatedMlp(String gateUp, String down) {
            this.gatedMlp = true;
            this.mlpNames = List.of(gateUp, down);
            return this;
        }

        /**
         * A mixture of experts in place of the MLP of the layers {@code inLayer} marks, at the MLP's path (the
         * others keep their MLP): a router ({@code gate}, GPT-OSS's {@code router}) picks each token's experts
         * ({@code experts}: gated MLPs, their weights stacked as {@code gate_up_proj} and {@code down_proj}) and
         * weighs their outputs, as {@code moe} says ({@link MixtureOfExperts.Kind}).
         */
        public Builder sparseMoe(MixtureOfExperts moe, IntPredicate inLayer) {
            this.moe = Objects.requireNonNull(moe, "moe");
            this.moeLayer = Objects.requireNonNull(inLayer, "inLayer");
            return this;
        }

        /** Queries, keys and values clipped to {@code [-clip, clip]} after their norms (OLMoE's {@code clip_qkv}); {@code null} for none. */
        public Builder clipQkv(Double clip) {
            this.clipQkv = clip;
            return this;
        }

        /** A plain MLP, {@code down(act(up(x)))} (GPT-NeoX's {@code dense_h_to_4h}, {@code dense_4h_to_h}). */
        public Builder denseMlp(String up, String down) {
            this.gatedMlp = false;
            this.mlpNames = List.of(up, down);
            return this;
        }

        /** The name of the MLP's activation module (default {@code act_fn}). */
        public Builder activationName(String name) {
            this.activationName = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Biases on the MLP's projections (default: none). */
        public Builder mlpBias(boolean bias) {
            this.mlpBias = bias;
            return this;
        }

        /** A dropout {@code name} at the end of the MLP (GPT-2's {@code dropout}). */
        public Builder mlpDropout(String name) {
            this.mlpDropout = name;
            return this;
        }

        /** The norms before the attention and before the MLP (default {@code input_layernorm}, {@code post_attention_layernorm}). */
        public Builder norms(String beforeAttention, String beforeMlp) {
            this.beforeAttention = Objects.requireNonNull(beforeAttention, "beforeAttention");
            this.beforeMlp = Objects.requireNonNull(beforeMlp, "beforeMlp");
            this.afterAttention = null;
            this.afterMlp = null;
            return this;
        }

        /** Norms before and after each block, the block's normalised output added to the residual stream (Gemma 2). */
        public Builder sandwichNorms(String beforeAttention, String afterAttention, String beforeMlp, String afterMlp) {
            norms(beforeAttention, beforeMlp);
            this.afterAttention = Objects.requireNonNull(afterAttention, "afterAttention");
            this.afterMlp = Objects.requireNonNull(afterMlp, "afterMlp");
            return this;
        }

        /** Norms after each block and none before, the block's normalised output added to the residual stream (OLMo 2). */
        public Builder postNorms(String afterAttention, String afterMlp) {
            this.beforeAttention = null;
            this.beforeMlp = null;
            this.afterAttention = Objects.requireNonNull(afterAttention, "afterAttention");
            this.afterMlp = Objects.requireNonNull(afterMlp, "afterMlp");
            return this;
        }

        /** Dropouts on each block's output before it joins the residual stream (Phi-3, GPT-NeoX). */
        public Builder residualDropouts(String afterAttention, String afterMlp) {
            this.attentionResidualDropout = afterAttention;
            this.mlpResidualDropout = afterMlp;
            return this;
        }

        /** How the blocks join the residual stream (default sequentially). */
        public Builder residual(Residual residual) {
            this.residual = Objects.requireNonNull(residual, "residual");
            return this;
        }

        /** Whether {@code lm_head} shares the token embedding's weight. */
        public Builder tiedHead(boolean tied) {
            this.tiedHead = tied;
            return this;
        }

        /** Soft-caps the logits at {@code cap} after {@code lm_head} (Gemma 2); {@code null} for none. */
        public Builder finalSoftcap(Double cap) {
            this.finalSoftcap = cap;
            return this;
        }

        /** The probability of every dropout module, which only training uses (default 0). */
        public Builder dropout(double p) {
            this.dropout = p;
            return this;
        }

        /**
         * The description.
         *
         * @throws IllegalStateException when the sizes or the positions are missing
         */
        public DecoderSpec build() {
            if (layers <= 0 || hiddenSize <= 0 || vocabSize <= 0 || headDim <= 0) {
                throw new IllegalStateException("sizes(...) must give positive sizes");
            }
            if (rope == null && positionEmbedding == null) {
                throw new IllegalStateException("a decoder needs positions: rope(...) or learnedPositions(...)");
            }
            if (localRope != null && rope == null) {
                throw new IllegalStateException("localRope(...) needs rope(...) for the other layers");
            }
            if (scaling == null) {
                double scale = 1 / Math.sqrt(headDim);
                scaling = layer -> scale;
            }
            return new DecoderSpec(this);
        }
    }

    @Override
    public String toString() {
        return family + "(layers=" + layers + ", hidden=" + hiddenSize + ", heads=" + heads + "/" + keyValueHeads
                + ", head_dim=" + headDim + ", windows=" + Arrays.toString(windows) + ")";
    }
}
