package io.nnsight.lm.llama;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.RMSNorm;
import org.bytedeco.pytorch.Tensor;

/**
 * One Llama block: {@code h + self_attn(input_layernorm(h))}, then {@code h + mlp(post_attention_layernorm(h))}.
 * Its input is the hidden states (positional) with the attention's named inputs; its output, the hidden
 * states after the block.
 */
public final class LlamaDecoderLayer extends HookedModule {
    private final RMSNorm inputLayernorm;
    private final LlamaAttention selfAttn;
    private final RMSNorm postAttentionLayernorm;
    private final LlamaMLP mlp;

    /** Layer {@code layer} of a model. */
    public LlamaDecoderLayer(LlamaConfig config, int layer) {
        this.selfAttn = register("self_attn", new LlamaAttention(config, layer));
        this.mlp = register("mlp", new LlamaMLP(config));
        this.inputLayernorm = register("input_layernorm", new RMSNorm(config.hiddenSize(), config.rmsNormEps()));
        this.postAttentionLayernorm = register("post_attention_layernorm", new RMSNorm(config.hiddenSize(), config.rmsNormEps()));
    }

    /** Runs the block; {@code inputs} holds the hidden states and the attention's named inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, in -> {
            Tensor hidden = in.tensor(0);
            Tensor attended = selfAttn.forward(in.withFirst(inputLayernorm.forward(hidden)));
            hidden = hidden.add(attended);
            return hidden.add(mlp.forward(postAttentionLayernorm.forward(hidden)));
        });
    }
}
