package io.nnsight.lm.decoder;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import io.nnsight.spi.BatchSensitive;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
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
 * <p>With attention sinks (GPT-OSS: {@code self_attn.sinks}, one learned logit per head), each query's row of
 * scores gains its head's sink as one more column before the softmax, which is then dropped, as transformers' GPT-OSS
 * eager attention computes it (in the scores' type): a row of the pattern sums to less than 1, the rest going to
 * the sink.
 *
 * <p>The attention computes the pattern only when some trace's body waits for this module (or always, for an
 * attention whose scores are soft-capped): otherwise it runs libtorch's fused scaled-dot-product kernel, which
 * gives the same output without the pattern. Since waiting for it changes every row's kernel, it is {@link
 * BatchSensitive}: a trace sharing a forward pass with others ({@code TraceBatch}) that waits for it is evicted.
 */
public final class AttentionProbs extends HookedModule implements TensorModule, BatchSensitive {
    private static final ScalarTypeOptional FLOAT32 = persistent(new ScalarTypeOptional(torch.ScalarType.Float));

    /** Each head's sink {@code [heads]}, or {@code null}. */
    private final Tensor sinks;

    /** The pattern of an attention without sinks. */
    public AttentionProbs() {
        this(null);
    }

    /** The pattern of an attention whose heads have the sinks {@code sinks} {@code [heads]} (its parameter). */
    public AttentionProbs(Tensor sinks) {
        this.sinks = sinks;
    }

    @Override
    public Tensor forward(Tensor scores) {
        return hooked(scores, this::softmax);
    }

    private Tensor softmax(Tensor scores) {
        if (sinks == null) {
            return scores.softmax(-1, FLOAT32).to(scores.scalar_type());
        }
        // transformers subtracts each row's maximum first; libtorch's softmax does that itself, with the same values
        Tensor column = sinks.reshape(1, -1, 1, 1).expand(scores.size(0), -1, scores.size(2), 1);
        return torch.cat(new TensorVector(scores, column), -1).softmax(-1).narrow(-1, 0, scores.size(-1));
    }
}
