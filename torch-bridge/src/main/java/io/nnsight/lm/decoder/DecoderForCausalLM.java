package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import java.util.function.Function;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * A decoder-only language model built from a {@link DecoderSpec}, with Hugging Face's module names: the
 * decoder ({@code model}, {@code transformer} or {@code gpt_neox}; in an image-text checkpoint, {@code
 * model.language_model}, held by an {@link ImageTextModel}) and the output layer {@code lm_head}, whose
 * logits Gemma 2 soft-caps. Takes the named inputs of {@link DecoderModel}; returns the logits {@code [batch,
 * tokens, vocab]}. Its weights are uninitialised until loaded from a checkpoint ({@code LanguageModel.load}).
 */
public final class DecoderForCausalLM extends HookedModule implements CausalLM {
    private final DecoderSpec spec;
    private final Placement placement;
    private final DecoderModel model;
    /** The decoder's forward, or that of the image-text model holding it. */
    private final Function<Inputs, Tensor> decoder;
    private final Linear lmHead;
    private final Scalar finalSoftcap;

    /** A model of {@code spec} in {@code placement}'s type and on its device. */
    public DecoderForCausalLM(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        this.placement = placement;
        int dot = spec.model.indexOf('.');
        if (dot < 0) {
            this.model = register(spec.model, new DecoderModel(spec, placement));
            this.decoder = model::forward;
        } else {
            this.model = new DecoderModel(spec, placement);
            this.decoder = register(spec.model.substring(0, dot), new ImageTextModel(spec.family,
                    spec.model.substring(dot + 1), model))::forward;
        }
        this.lmHead = register(spec.paths.lmHead(), spec.tiedHead
                ? new Linear(model.embeddingWeight(), null)
                : new Linear(placement.parameter(spec.vocabSize, spec.hiddenSize), null));
        this.finalSoftcap = spec.finalSoftcap == null ? null : persistent(new Scalar(spec.finalSoftcap));
    }

    @Override
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    private Tensor compute(Inputs in) {
        Tensor logits = lmHead.forward(decoder.apply(in));
        return finalSoftcap == null ? logits : logits.div(finalSoftcap).tanh().mul(finalSoftcap);
    }

    /**
     * A model of the same spec and type on the meta device ({@link Placement#meta}), in evaluation mode: the same
     * modules, whose weights have shapes and no memory. What a scan runs.
     */
    public DecoderForCausalLM onMeta() {
        DecoderForCausalLM twin = new DecoderForCausalLM(spec, Placement.meta(placement.dtype()));
        twin.eval();
        return twin;
    }

    /** The type and device of its weights. */
    public Placement placement() {
        return placement;
    }

    @Override
    public int layers() {
        return spec.layers;
    }

    @Override
    public int contextLength() {
        return spec.contextLength();
    }

    /**
     * Whether a row's positions depend on the batch's longest sequence ({@code dynamic} and {@code longrope} rotary
     * scaling choose their frequencies by it): then rows of different lengths are not independent, and generations of such a model are
     * not batched continuously.
     */
    public boolean positionsDependOnLength() {
        return spec.rotationDependsOnLength();
    }

    @Override
    public long vocabularySize() {
        return spec.vocabSize;
    }

    @Override
    public boolean tiesOutputToEmbedding() {
        return spec.tiedHead;
    }

    @Override
    public String describe() {
        return spec.family + "ForCausalLM(" + placement + ")";
    }
}
