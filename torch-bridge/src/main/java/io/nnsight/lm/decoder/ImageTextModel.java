package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import org.bytedeco.pytorch.Tensor;

/**
 * The {@code model} of an image-text checkpoint (transformers' {@code Gemma3Model}), built for text alone: it holds
 * the language model ({@code language_model}) and passes its inputs to it, returning its hidden states; the vision
 * tower and the projector beside it in transformers are not built, so an image cannot go in. The language model
 * embeds the tokens itself, so its input is the token ids where transformers gives it their embeddings.
 */
public final class ImageTextModel extends HookedModule {
    private final String family;
    private final DecoderModel languageModel;

    /** Holds {@code languageModel} as its child {@code name}. */
    public ImageTextModel(String family, String name, DecoderModel languageModel) {
        this.family = family;
        this.languageModel = register(name, languageModel);
    }

    /** Runs the language model on {@code inputs}: {@link DecoderModel}'s. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, languageModel::forward);
    }

    @Override
    public String describe() {
        return family + "Model()";
    }
}
