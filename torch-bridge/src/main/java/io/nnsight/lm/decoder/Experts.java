package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.Tensors;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Scalar;
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
 */
public final class Experts extends HookedModule {
    private static final Scalar ONE = persistent(new Scalar(1));

    private final DecoderSpec spec;
    private final Tensor gateUp;
    private final Tensor down;
    private final TensorModule activation;
    private final TensorOptional noWeights = persistent(new TensorOptional());

    /** The experts of a layer, their weights uninitialised until loaded. */
    public Experts(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        MixtureOfExperts moe = spec.moe;
        this.gateUp = registerParameter("gate_up_proj",
                placement.parameter(moe.experts(), 2 * moe.intermediateSize(), spec.hiddenSize));
        this.down = registerParameter("down_proj", placement.parameter(moe.experts(), spec.hiddenSize,
                moe.intermediateSize()));
        this.activation = (TensorModule) register(spec.activationName, spec.activation.module());
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
            TensorVector gateAndUp = torch.linear(tokens.index_select(0, token), gateUp.select(0, expert)).chunk(2, -1);
            Tensor output = torch.linear(activation.forward(gateAndUp.get(0)).mul(gateAndUp.get(1)), down.select(0, expert));
            Tensor weight = flatWeights.index_select(0, token.mul(perToken).add(where.select(1, 1)));
            result.index_add_(0, token, output.mul(weight.unsqueeze(-1)).to(result.scalar_type()), ONE);
        }
        return result;
    }

    @Override
    public String describe() {
        return spec.family + "Experts(experts=" + spec.moe.experts() + ", hidden=" + spec.hiddenSize
                + ", intermediate=" + spec.moe.intermediateSize() + ")";
    }
}
