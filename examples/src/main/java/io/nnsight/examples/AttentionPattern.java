package io.nnsight.examples;

import io.nnsight.Tensors;
import io.nnsight.lm.LanguageModel;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Attention patterns: where each head looks. The model computes attention without materialising its
 * weights, so the pattern is computed from what the trace reads, as TransformerLens's {@code hook_pattern}
 * holds it: the queries and keys ({@code q_proj}, {@code k_proj} outputs), the rotary position embeddings
 * the attention module is given, and a causal softmax.
 *
 * <pre>
 * examples/run AttentionPattern [model folder or hub id]      (default ../shared/models/stories260K)
 * </pre>
 *
 * <p>The arithmetic is Llama's (rotary embeddings, grouped-query attention); the reads are in the order the
 * model runs: the attention's inputs, then {@code q_proj}, then {@code k_proj}.
 */
public final class AttentionPattern {
    private AttentionPattern() {}

    public static void main(String[] args) {
        LanguageModel lm = LanguageModel.load(args.length > 0 ? args[0] : "../shared/models/stories260K");
        String prompt = "Lily and Tom went to the park. Tom gave the ball to";
        long[] ids = lm.tokenizer().encode(prompt);

        for (int layer : new int[] {0, 3}) {
            Tensor pattern = pattern(lm, prompt, layer);                      // [heads, query, key]
            Tensor last = pattern.select(0, 0).select(0, ids.length - 1);     // head 0, the last query
            Tensors.TopK top = Tensors.topK(last, 3);
            StringBuilder line = new StringBuilder(String.format("layer %d, head 0, last token attends to:", layer));
            for (int i = 0; i < top.size(); i++) {
                line.append(String.format("  '%s'@%d %.3f", lm.tokenizer().token(ids[(int) top.index(i)]).strip(),
                        top.index(i), top.value(i)));
            }
            System.out.println(line);
            System.out.println("  row of head 0: " + java.util.Arrays.toString(round(Tensors.floats(last))));
        }
    }

    /** The attention weights of {@code layer} on {@code prompt}: {@code [heads, query, key]}. */
    static Tensor pattern(LanguageModel lm, String prompt, int layer) {
        String attention = "model.layers." + layer + ".self_attn";
        return lm.trace(prompt, tr -> {
            @SuppressWarnings("unchecked")
            List<Tensor> rotary = (List<Tensor>) lm.get(attention).inputs().get("position_embeddings"); // [cos, sin]
            Tensor query = lm.get(attention + ".q_proj").output();             // [1, tokens, heads * head_dim]
            Tensor key = lm.get(attention + ".k_proj").output();               // [1, tokens, kv_heads * head_dim]
            long headDim = rotary.get(0).size(-1);
            long tokens = query.size(1);
            Tensor q = rotate(heads(query, headDim), rotary);                  // [1, heads, tokens, head_dim]
            Tensor k = rotate(heads(key, headDim), rotary);                    // [1, kv_heads, tokens, head_dim]
            k = k.repeat_interleave(q.size(1) / k.size(1), new org.bytedeco.pytorch.LongOptional(1),
                    new org.bytedeco.pytorch.LongOptional());                   // each key head serves a group of query heads
            Tensor scores = q.matmul(k.transpose(-2, -1)).div(new Scalar(Math.sqrt(headDim)));
            Tensor future = torch.ones(tokens, tokens).triu(1).to(torch.ScalarType.Bool);
            scores = scores.masked_fill(future, new Scalar(Double.NEGATIVE_INFINITY));
            return scores.softmax(-1).select(0, 0);
        });
    }

    /** {@code [1, tokens, n * headDim]} as {@code [1, n, tokens, headDim]}. */
    private static Tensor heads(Tensor projected, long headDim) {
        return projected.view(projected.size(0), projected.size(1), -1, headDim).transpose(1, 2);
    }

    /** Rotary position embedding: {@code x * cos + rotate_half(x) * sin}. */
    private static Tensor rotate(Tensor x, List<Tensor> rotary) {
        Tensor cos = rotary.get(0).unsqueeze(1);
        Tensor sin = rotary.get(1).unsqueeze(1);
        long half = x.size(-1) / 2;
        Tensor rotated = torch.cat(new TensorVector(x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }

    private static float[] round(float[] values) {
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.round(values[i] * 1000) / 1000f;
        }
        return values;
    }
}
