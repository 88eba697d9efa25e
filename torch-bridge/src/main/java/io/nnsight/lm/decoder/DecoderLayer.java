package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.Dropout;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Tensor;

/**
 * One decoder layer: the attention and the MLP, each with its norms, joining the residual stream as the family
 * does. Sequentially ({@code h + attn(norm(h))}, then {@code h + mlp(norm(h))}: Llama), in parallel ({@code h +
 * attn(norm1(h)) + mlp(norm2(h))}: GPT-NeoX), with norms after the blocks as well ({@code h +
 * post_norm(attn(norm(h)))}: Gemma 2) or only after them ({@code h + post_norm(attn(h))}: OLMo 2), and with
 * dropouts on the blocks' outputs (Phi-3, GPT-NeoX). The MLP may be a mixture of experts ({@link SparseMoeBlock}:
 * Mixtral; {@link ScoringMoeBlock}, whose output also holds the routing weights: GPT-OSS). Its input is the hidden
 * states (positional) with the attention's named inputs; its output, the hidden states after the layer.
 */
public final class DecoderLayer extends HookedModule {
    private final DecoderSpec spec;
    private final SelfAttention attention;
    /** A {@link TensorModule}, or a {@link ScoringMoeBlock}. */
    private final HookedModule mlp;
    private final TensorModule beforeAttention;
    private final TensorModule afterAttention;
    private final TensorModule beforeMlp;
    private final TensorModule afterMlp;
    private final Dropout attentionDropout;
    private final Dropout mlpDropout;

    /** Layer {@code layer} of a model, its weights uninitialised until loaded. */
    public DecoderLayer(DecoderSpec spec, int layer, Placement placement) {
        this.spec = spec;
        this.attention = register(spec.paths.attention(), new SelfAttention(spec, layer, placement));
        this.mlp = register(spec.paths.mlp(), !spec.moeLayers[layer]
                ? (spec.gatedMlp ? new GatedMlp(spec, placement) : new DenseMlp(spec, placement))
                : spec.moe.kind() == MixtureOfExperts.Kind.TOP_K_THEN_SOFTMAX ? new ScoringMoeBlock(spec, placement)
                : new SparseMoeBlock(spec, placement));
        this.beforeAttention = norm(spec.beforeAttention, placement);
        this.afterAttention = norm(spec.afterAttention, placement);
        this.beforeMlp = norm(spec.beforeMlp, placement);
        this.afterMlp = norm(spec.afterMlp, placement);
        this.attentionDropout = dropout(spec.attentionResidualDropout);
        this.mlpDropout = dropout(spec.mlpResidualDropout);
    }

    private TensorModule norm(String name, Placement placement) {
        return name == null ? null : (TensorModule) register(name, spec.norm.create(spec.hiddenSize, placement));
    }

    private Dropout dropout(String name) {
        return name == null ? null : register(name, new Dropout(spec.dropout));
    }

    /** Runs the layer; {@code inputs} holds the hidden states and the attention's named inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    private Tensor compute(Inputs in) {
        Tensor hidden = in.tensor(0);
        Tensor attended = apply(attentionDropout, apply(afterAttention, attention.forward(in.withFirst(
                apply(beforeAttention, hidden)))));
        if (spec.residual == DecoderSpec.Residual.PARALLEL) {
            Tensor mlpOut = apply(mlpDropout, mlp(apply(beforeMlp, hidden)));
            return mlpOut.add(attended).add(hidden);
        }
        hidden = hidden.add(attended);
        return hidden.add(apply(mlpDropout, apply(afterMlp, mlp(apply(beforeMlp, hidden)))));
    }

    /** The MLP's hidden states for {@code x} (of a {@link ScoringMoeBlock}, the first of its outputs). */
    private Tensor mlp(Tensor x) {
        return mlp instanceof ScoringMoeBlock scoring ? scoring.forward(x).get(0) : ((TensorModule) mlp).forward(x);
    }

    /** {@code module}'s output for {@code x}, or {@code x} for a layer without that module. */
    private static Tensor apply(TensorModule module, Tensor x) {
        return module == null ? x : module.forward(x);
    }

    @Override
    public String describe() {
        return spec.family + "DecoderLayer()";
    }
}
