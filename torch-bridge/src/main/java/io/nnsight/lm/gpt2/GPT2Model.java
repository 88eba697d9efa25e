package io.nnsight.lm.gpt2;

import io.nnsight.Inputs;
import io.nnsight.lm.internal.DecoderInputs;
import io.nnsight.nn.Dropout;
import io.nnsight.nn.Embedding;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.LayerNorm;
import io.nnsight.nn.ModuleList;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * The GPT-2 decoder without its output layer: {@code wte}, {@code wpe}, {@code drop}, {@code h}, {@code
 * ln_f}, as in Hugging Face's {@code GPT2Model}. Returns the hidden states after {@code ln_f}. Named
 * inputs as {@link io.nnsight.lm.llama.LlamaModel}'s.
 */
public final class GPT2Model extends HookedModule {
    private final Embedding wte;
    private final Embedding wpe;
    private final Dropout drop;
    private final ModuleList<GPT2Block> h;
    private final LayerNorm lnF;

    /** A decoder with the given hyper-parameters (random weights until loaded). */
    public GPT2Model(Gpt2Config config) {
        this.wte = register("wte", new Embedding(config.vocabSize(), config.embedding()));
        this.wpe = register("wpe", new Embedding(config.positions(), config.embedding()));
        this.drop = register("drop", new Dropout(config.dropout()));
        List<GPT2Block> blocks = new ArrayList<>(config.layers());
        for (int i = 0; i < config.layers(); i++) {
            blocks.add(new GPT2Block(config, i));
        }
        this.h = register("h", new ModuleList<>(blocks));
        this.lnF = register("ln_f", new LayerNorm(config.embedding(), config.layerNormEps()));
    }

    /** Runs the decoder. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    private Tensor compute(Inputs in) {
        DecoderInputs inputs = DecoderInputs.read(in);
        Tensor hidden = drop.forward(wte.forward(inputs.ids()).add(wpe.forward(inputs.positions())));
        for (GPT2Block block : h) {
            hidden = block.forward(Inputs.of(hidden).with("attention_mask", inputs.mask())
                    .with("past_key_values", inputs.cache()));
        }
        return lnF.forward(hidden);
    }

    /** The token embedding. */
    public Embedding wte() {
        return wte;
    }
}
