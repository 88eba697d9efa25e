package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.Tensors;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The experts of a mixture of experts ({@code experts}, transformers' {@code MixtralExperts}): gated MLPs whose
 * weights are stacked, {@code gate_up_proj} {@code [experts, 2 * intermediate, hidden]} (gate first) and {@code
 * down_proj} {@code [experts, hidden, intermediate]}, with one activation {@code act_fn}. Inputs: the tokens {@code
 * [tokens, hidden]}, each token's experts {@code [tokens, k]} and their weights {@code [tokens, k]}; output: for each
 * token, the sum of its experts' outputs times their weights, {@code [tokens, hidden]}. Each expert that some token
 * picked runs once, on its tokens, in the order of the experts (so {@code act_fn} runs once per such expert, as in
 * transformers). On the meta device (a scan), where which experts run is not known, the output is zeros of its shape.
 *
 * <p>GPT-OSS's experts ({@link MixtureOfExperts.Kind#TOP_K_THEN_SOFTMAX}, transformers' {@code GptOssExperts}) store
 * {@code gate_up_proj} as {@code [experts, hidden, 2 * intermediate]}, gate and up features interleaved, and {@code
 * down_proj} as {@code [experts, intermediate, hidden]}, with the biases {@code gate_up_proj_bias} and {@code
 * down_proj_bias}; each computes {@code (clamp(up, -7, 7) + 1) * g * sigmoid(1.702 * g)} with {@code g = clamp(gate,
 * max 7)}, and has no activation module.
 */
public final class Experts extends HookedModule {
    private static final Scalar ONE = persistent(new Scalar(1));
    /** GPT-OSS's clamp of the gate (above) and up values (both sides), and its gate's sigmoid scale. */
    private static final ScalarOptional LIMIT = persistent(new ScalarOptional(persistent(new Scalar(7.0))));
    private static final ScalarOptional NEGATIVE_LIMIT = persistent(new ScalarOptional(persistent(new Scalar(-7.0))));
    private static final ScalarOptional NO_BOUND = persistent(new ScalarOptional());
    private static final Scalar ALPHA = persistent(new Scalar(1.702));
    private static final LongOptional EVEN = persistent(new LongOptional(0));
    private static final LongOptional ODD = persistent(new LongOptional(1));
    private static final LongOptional TO_END = persistent(new LongOptional());

    private final DecoderSpec spec;
    private final Tensor gateUp;
    private final Tensor down;
    /** GPT-OSS's biases, else {@code null}. */
    private final Tensor gateUpBias;
    private final Tensor downBias;
    /** The activation module; {@code null} for GPT-OSS's clamped gate. */
    private final TensorModule activation;
    private final TensorOptional noWeights = persistent(new TensorOptional());

    /** The experts of a layer, their weights uninitialised until loaded. */
    public Experts(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        MixtureOfExperts moe = spec.moe;
        if (moe.kind() == MixtureOfExperts.Kind.TOP_K_THEN_SOFTMAX) {
            this.gateUp = registerParameter("gate_up_proj",
                    placement.parameter(moe.experts(), spec.hiddenSize, 2 * moe.intermediateSize()));
            this.gateUpBias = registerParameter("gate_up_proj_bias",
                    placement.parameter(moe.experts(), 2 * moe.intermediateSize()));
            this.down = registerParameter("down_proj",
                    placement.parameter(moe.experts(), moe.intermediateSize(), spec.hiddenSize));
            this.downBias = registerParameter("down_proj_bias", placement.parameter(moe.experts(), spec.hiddenSize));
            this.activation = null;
        } else {
            this.gateUp = registerParameter("gate_up_proj",
                    placement.parameter(moe.experts(), 2 * moe.intermediateSize(), spec.hiddenSize));
            this.down = registerParameter("down_proj", placement.parameter(moe.experts(), spec.hiddenSize,
                    moe.intermediateSize()));
            this.gateUpBias = null;
            this.downBias = null;
            this.activation = (TensorModule) register(spec.activationName, spec.activation.module());
        }
    }

    /** Runs the experts; see the class description for the inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    private Tensor compute(Inputs in) {
        Tensor tokens = in.tensor(0);
        Tensor picked = in.tensor(1);
        Tensor weights = in.tensor(2);
        Tensor result = torch.zeros_like(tokens);
        if (tokens.is_meta()) {
            return result;
        }
        Scalar perToken = new Scalar(picked.size(1));
        Tensor flatWeights = weights.flatten();
        long[] tokensPerExpert = Tensors.longs(torch.bincount(picked.flatten(), noWeights, spec.moe.experts()));
        for (int expert = 0; expert < tokensPerExpert.length; expert++) {
            if (tokensPerExpert[expert] == 0) {
                continue;
            }
            Tensor where = torch.nonzero(picked.eq(new Scalar(expert))); // [n, 2]: token, slot
            Tensor token = where.select(1, 0);
            Tensor output = expert(tokens.index_select(0, token), expert);
            Tensor weight = flatWeights.index_select(0, token.mul(perToken).add(where.select(1, 1)));
            result.index_add_(0, token, output.mul(weight.unsqueeze(-1)).to(result.scalar_type()), ONE);
        }
        return result;
    }

    /** Expert {@code expert}'s output for {@code tokens} {@code [n, hidden]}. */
    private Tensor expert(Tensor tokens, int expert) {
        if (activation != null) {
            TensorVector gateAndUp = torch.linear(tokens, gateUp.select(0, expert)).chunk(2, -1);
            return torch.linear(activation.forward(gateAndUp.get(0)).mul(gateAndUp.get(1)), down.select(0, expert));
        }
        Tensor gateAndUp = tokens.matmul(gateUp.select(0, expert)).add(gateUpBias.select(0, expert));
        Tensor gate = gateAndUp.slice(-1, EVEN, TO_END, 2).clamp(NO_BOUND, LIMIT);
        Tensor up = gateAndUp.slice(-1, ODD, TO_END, 2).clamp(NEGATIVE_LIMIT, LIMIT);
        Tensor gated = up.add(ONE).mul(gate.mul(torch.sigmoid(gate.mul(ALPHA))));
        return gated.matmul(down.select(0, expert)).add(downBias.select(0, expert));
    }

    @Override
    public String describe() {
        return spec.family + "Experts(experts=" + spec.moe.experts() + ", hidden=" + spec.hiddenSize
                + ", intermediate=" + spec.moe.intermediateSize() + ")";
    }
}
