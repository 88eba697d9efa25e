package io.nnsight.lm.llama;

import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import org.bytedeco.pytorch.Tensor;

/**
 * A Llama language model with Hugging Face's module names: {@code model.embed_tokens}, {@code
 * model.layers.N.self_attn.q_proj}, {@code model.layers.N.mlp}, {@code model.norm}, {@code lm_head}. Takes
 * the named inputs of {@link LlamaModel}; returns the logits {@code [batch, tokens, vocab]}.
 */
public final class LlamaForCausalLM extends HookedModule implements CausalLM {
    private final LlamaConfig config;
    private final LlamaModel model;
    private final Linear lmHead;

    /** A model with the given hyper-parameters (random weights until loaded). */
    public LlamaForCausalLM(LlamaConfig config) {
        this.config = config;
        this.model = register("model", new LlamaModel(config));
        this.lmHead = register("lm_head", config.tieWordEmbeddings()
                ? new Linear(model.embedTokens().weight(), null)
                : new Linear(config.hiddenSize(), config.vocabSize(), false));
    }

    @Override
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, in -> lmHead.forward(model.forward(in)));
    }

    @Override
    public int layers() {
        return config.layers();
    }

    @Override
    public int contextLength() {
        return config.maxPositions();
    }

    @Override
    public long vocabularySize() {
        return config.vocabSize();
    }

    @Override
    public boolean tiesOutputToEmbedding() {
        return config.tieWordEmbeddings();
    }

    /** The hyper-parameters. */
    public LlamaConfig config() {
        return config;
    }
}
