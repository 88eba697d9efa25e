package io.nnsight.lm.decoder;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import io.nnsight.spi.BatchSensitive;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The attention pattern ({@code attention_probs}, a child of every attention): the softmax over the keys of the
 * attention scores, computed in float32 and returned in the scores' type, as transformers' eager attention does.
 * Its input is the scores {@code [batch, heads, queries, keys]}, scaled, soft-capped and masked (masked entries
 * hold the type's lowest value); its output, the probabilities of the same shape, which the attention then
 * multiplies with the values.
 *
 * <p>A trace reads the pattern as this module's output and may replace it (pattern ablation, head masking), or
 * change the scores as its input:
 *
 * <pre>{@code
 * Envoy probs = lm.get("model.layers.0.self_attn.attention_probs");
 * Tensor pattern = lm.trace(prompt, tr -> probs.output());          // [1, heads, tokens, tokens]
 * lm.trace(prompt, tr -> { probs.output().select(1, 3).zero_(); return null; });   // silence head 3
 * }</pre>
 *
 * <p>The attention computes the pattern only when some trace's body waits for this module (or always, for an
 * attention whose scores are soft-capped): otherwise it runs libtorch's fused scaled-dot-product kernel, which
 * gives the same output without the pattern. Since waiting for it changes every row's kernel, it is {@link
 * BatchSensitive}: a trace sharing a forward pass with others ({@code TraceBatch}) that waits for it is evicted.
 */
public final class AttentionProbs extends HookedModule implements TensorModule, BatchSensitive {
    private static final ScalarTypeOptional FLOAT32 = persistent(new ScalarTypeOptional(torch.ScalarType.Float));

    @Override
    public Tensor forward(Tensor scores) {
        return hooked(scores, AttentionProbs::softmax);
    }

    private static Tensor softmax(Tensor scores) {
        return scores.softmax(-1, FLOAT32).to(scores.scalar_type());
    }
}
