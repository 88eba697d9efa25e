package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.HookedModule;
import java.util.List;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * The router of a mixture of experts ({@code gate}, transformers' {@code MixtralTopKRouter}): for tokens {@code
 * [tokens, hidden]}, the router logits {@code [tokens, experts]} ({@code weight} applied), the softmax of each
 * token's logits in float32, of which the top {@code k} (renormalised to sum to 1 if the family does, and cast to
 * the model's type if it does) are the experts' weights. GPT-OSS's ({@code router}, {@link
 * MixtureOfExperts.Kind#TOP_K_THEN_SOFTMAX}) adds a {@code bias} to the logits and takes the softmax of the top
 * {@code k} logits instead. Output: {@code [router logits, weights [tokens, k], experts [tokens, k]]}, as
 * transformers' router returns them; a trace may read or replace any of the three.
 */
public final class TopKRouter extends HookedModule {
    private static final ScalarTypeOptional FLOAT32 = persistent(new ScalarTypeOptional(torch.ScalarType.Float));
    private static final ScalarTypeOptional SAME_TYPE = persistent(new ScalarTypeOptional());

    private final DecoderSpec spec;
    private final Tensor weight;
    /** GPT-OSS's bias, made optional once, as {@code torch.linear} takes it; {@code null} for the others. */
    private final TensorOptional bias;

    /** The router of a layer, its weights uninitialised until loaded. */
    public TopKRouter(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        this.weight = registerParameter("weight", placement.parameter(spec.moe.experts(), spec.hiddenSize));
        this.bias = spec.moe.kind() == MixtureOfExperts.Kind.TOP_K_THEN_SOFTMAX
                ? persistent(new TensorOptional(registerParameter("bias", placement.parameter(spec.moe.experts()))))
                : null;
    }

    /** Routes {@code tokens} {@code [tokens, hidden]}; see the class description for the output. */
    @SuppressWarnings("unchecked")
    public List<Tensor> forward(Tensor tokens) {
        return (List<Tensor>) hooked(Inputs.of(tokens), this::compute);
    }

    private List<Tensor> compute(Inputs in) {
        Tensor tokens = in.tensor(0);
        if (bias != null) {
            Tensor logits = torch.linear(tokens, weight, bias);
            T_TensorTensor_T top = torch.topk(logits, spec.moe.perToken());
            return List.of(logits, top.get0().softmax(-1, SAME_TYPE), top.get1());
        }
        Tensor logits = torch.linear(tokens, weight);
        T_TensorTensor_T top = torch.topk(logits.softmax(-1, FLOAT32), spec.moe.perToken());
        Tensor weights = top.get0();
        if (spec.moe.renormalize()) {
            weights = weights.div(weights.sum(new long[] {-1}, true, SAME_TYPE));
        }
        if (spec.moe.weightsInModelType()) {
            weights = weights.to(logits.scalar_type());
        }
        return List.of(logits, weights, top.get1());
    }

    @Override
    public String describe() {
        return spec.family + "TopKRouter(experts=" + spec.moe.experts() + ", k=" + spec.moe.perToken() + ")";
    }
}
