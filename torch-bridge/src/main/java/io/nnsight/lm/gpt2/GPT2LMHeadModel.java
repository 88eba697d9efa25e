package io.nnsight.lm.gpt2;

import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.Linear;
import org.bytedeco.pytorch.Tensor;

/**
 * A GPT-2 language model with Hugging Face's module names: {@code transformer.wte}, {@code
 * transformer.h.N.attn}, {@code transformer.h.N.mlp}, {@code transformer.ln_f}, {@code lm_head} (tied to
 * {@code wte}). Returns the logits {@code [batch, tokens, vocab]}.
 */
public final class GPT2LMHeadModel extends HookedModule implements CausalLM {
    private final Gpt2Config config;
    private final GPT2Model transformer;
    private final Linear lmHead;

    /** A model with the given hyper-parameters (random weights until loaded). */
    public GPT2LMHeadModel(Gpt2Config config) {
        this.config = config;
        this.transformer = register("transformer", new GPT2Model(config));
        this.lmHead = register("lm_head", new Linear(transformer.wte().weight(), null));
    }

    @Override
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, in -> lmHead.forward(transformer.forward(in)));
    }

    @Override
    public int layers() {
        return config.layers();
    }

    @Override
    public int contextLength() {
        return config.positions();
    }

    @Override
    public long vocabularySize() {
        return config.vocabSize();
    }

    @Override
    public boolean tiesOutputToEmbedding() {
        return true;
    }

    /** The hyper-parameters. */
    public Gpt2Config config() {
        return config;
    }
}
