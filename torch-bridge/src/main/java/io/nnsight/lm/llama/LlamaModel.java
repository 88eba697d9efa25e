package io.nnsight.lm.llama;

import io.nnsight.Inputs;
import io.nnsight.lm.internal.DecoderInputs;
import io.nnsight.nn.Embedding;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.ModuleList;
import io.nnsight.nn.RMSNorm;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * The Llama decoder without its output layer: {@code embed_tokens}, {@code layers}, {@code norm} and
 * {@code rotary_emb}, as in Hugging Face's {@code LlamaModel}. Returns the normalised hidden states.
 *
 * <p>Named inputs: {@code input_ids} {@code [batch, tokens]}; optional {@code attention_mask} {@code
 * [batch, past + tokens]} (1 for real tokens, 0 for padding), {@code position_ids} (counted from the mask
 * when absent) and {@code past_key_values}.
 */
public final class LlamaModel extends HookedModule {
    private final Embedding embedTokens;
    private final ModuleList<LlamaDecoderLayer> layers;
    private final RMSNorm norm;
    private final LlamaRotaryEmbedding rotaryEmb;

    /** A decoder with the given hyper-parameters (random weights until loaded). */
    public LlamaModel(LlamaConfig config) {
        this.embedTokens = register("embed_tokens", new Embedding(config.vocabSize(), config.hiddenSize()));
        List<LlamaDecoderLayer> blocks = new ArrayList<>(config.layers());
        for (int i = 0; i < config.layers(); i++) {
            blocks.add(new LlamaDecoderLayer(config, i));
        }
        this.layers = register("layers", new ModuleList<>(blocks));
        this.norm = register("norm", new RMSNorm(config.hiddenSize(), config.rmsNormEps()));
        this.rotaryEmb = register("rotary_emb", new LlamaRotaryEmbedding(config.headDim(), config.ropeTheta()));
    }

    /** Runs the decoder; see the class description for the inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    private Tensor compute(Inputs in) {
        DecoderInputs inputs = DecoderInputs.read(in);
        Tensor hidden = embedTokens.forward(inputs.ids());
        List<Tensor> rotary = rotaryEmb.forward(hidden, inputs.positions());
        for (LlamaDecoderLayer layer : layers) {
            hidden = layer.forward(Inputs.of(hidden)
                    .with("attention_mask", inputs.mask())
                    .with("position_ids", inputs.positions())
                    .with("past_key_values", inputs.cache())
                    .with("position_embeddings", rotary));
        }
        return norm.forward(hidden);
    }

    /** The token embedding. */
    public Embedding embedTokens() {
        return embedTokens;
    }
}
