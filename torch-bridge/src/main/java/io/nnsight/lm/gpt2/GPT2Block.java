package io.nnsight.lm.gpt2;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.LayerNorm;
import org.bytedeco.pytorch.Tensor;

/**
 * One GPT-2 block: {@code h + attn(ln_1(h))}, then {@code h + mlp(ln_2(h))}. Its input is the hidden
 * states (positional) with the attention's named inputs; its output, the hidden states after the block.
 */
public final class GPT2Block extends HookedModule {
    private final LayerNorm ln1;
    private final GPT2Attention attn;
    private final LayerNorm ln2;
    private final GPT2MLP mlp;

    /** Block {@code layer} of a model. */
    public GPT2Block(Gpt2Config config, int layer) {
        this.ln1 = register("ln_1", new LayerNorm(config.embedding(), config.layerNormEps()));
        this.attn = register("attn", new GPT2Attention(config, layer));
        this.ln2 = register("ln_2", new LayerNorm(config.embedding(), config.layerNormEps()));
        this.mlp = register("mlp", new GPT2MLP(config));
    }

    /** Runs the block; {@code inputs} holds the hidden states and the attention's named inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, in -> {
            Tensor hidden = in.tensor(0);
            hidden = hidden.add(attn.forward(in.withFirst(ln1.forward(hidden))));
            return hidden.add(mlp.forward(ln2.forward(hidden)));
        });
    }
}
