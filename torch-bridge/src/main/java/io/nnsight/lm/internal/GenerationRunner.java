package io.nnsight.lm.internal;

import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.lm.Generation;
import io.nnsight.lm.KvCache;
import io.nnsight.lm.decoder.Placement;
import io.nnsight.spi.ModelRunner;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * Runs a generation inside a trace: the prompt, then one step per new token with the key/value cache,
 * each step a forward pass of the model (so each step is a new iteration of every module), and finally
 * the {@link GeneratorModule} with all ids.
 */
public final class GenerationRunner implements ModelRunner {
    private final CausalLM model;
    private final GeneratorModule generator;
    private final Generation generation;
    private final PromptInputs batching;
    private final long[] eos;
    private final long pad;

    /**
     * @param eos the ids that end a sequence
     * @param pad the id that fills a sequence after it ended
     */
    public GenerationRunner(CausalLM model, GeneratorModule generator, Generation generation, PromptInputs batching, long[] eos,
            long pad) {
        this.model = model;
        this.generator = generator;
        this.generation = generation;
        this.batching = batching;
        this.eos = eos;
        this.pad = pad;
    }

    @Override
    public Object run(Inputs prompt, Control control) {
        Tensor ids = prompt.tensor("input_ids");
        Tensor mask = prompt.tensor("attention_mask");
        batching.checkLength(ids.size(1), generation.maxNewTokens());
        long batch = ids.size(0);
        KvCache cache = new KvCache(model.layers());
        GeneratorOptional random = generation.seed() == null
                ? new GeneratorOptional()
                : new GeneratorOptional(torch.createCPUGenerator(generation.seed()));
        Tensor all = ids;
        Tensor next = ids;
        Placement placement = batching.placement();
        Tensor finished = torch.zeros(new long[] {batch}, placement.bools());
        Tensor ones = torch.ones(new long[] {batch, 1}, placement.longs());
        for (int step = 0; step < generation.maxNewTokens(); step++) {
            Tensor logits = model.forward(Inputs.of()
                    .with("input_ids", next)
                    .with("attention_mask", mask)
                    .with("past_key_values", cache));
            // in float32, as transformers' generate reads the logits
            Tensor token = pick(generation, logits.select(1, logits.size(1) - 1).to(ScalarType.Float), random, placement);
            token = torch.where(finished, new Scalar(pad), token);
            next = generator.streamer().forward(token.unsqueeze(1));
            all = torch.cat(new TensorVector(all, next), 1);
            mask = torch.cat(new TensorVector(mask, ones), 1);
            if (generation.stopAtEos() && eos.length > 0) {
                finished = finished.logical_or(isEos(next.squeeze(1), eos));
                if (torch.all(finished).item_bool()) {
                    break;
                }
            }
        }
        control.endSteps();
        return generator.forward(all);
    }

    /** Whether each of {@code tokens} is one of {@code eos}. */
    static Tensor isEos(Tensor tokens, long[] eos) {
        Tensor hit = tokens.eq(new Scalar(eos[0]));
        for (int i = 1; i < eos.length; i++) {
            hit = hit.logical_or(tokens.eq(new Scalar(eos[i])));
        }
        return hit;
    }

    /**
     * The next token of each row from the last position's logits {@code [batch, vocab]}; sampled on the CPU, with
     * the seed's CPU generator, so that a seed gives the same tokens on every device.
     */
    static Tensor pick(Generation generation, Tensor logits, GeneratorOptional random, Placement placement) {
        if (!generation.sampling()) {
            return torch.argmax(logits, new LongOptional(-1), false);
        }
        Tensor scores = logits.div(new Scalar(generation.temperature()));
        if (generation.topK() > 0 && generation.topK() < scores.size(-1)) {
            Tensor kth = torch.topk(scores, generation.topK()).get0().narrow(-1, generation.topK() - 1, 1);
            scores = scores.masked_fill(scores.lt(kth), new Scalar(Double.NEGATIVE_INFINITY));
        }
        if (generation.topP() < 1) {
            T_TensorTensor_T sorted = torch.sort(scores, -1, true);
            Tensor probabilities = torch.softmax(sorted.get0(), -1);
            Tensor before = probabilities.cumsum(-1).sub(probabilities);
            Tensor dropSorted = before.gt(new Scalar(generation.topP()));
            Tensor drop = torch.zeros_like(dropSorted).scatter(-1, sorted.get1(), dropSorted);
            scores = scores.masked_fill(drop, new Scalar(Double.NEGATIVE_INFINITY));
        }
        Tensor probabilities = torch.softmax(scores, -1).cpu();
        return placement.onDevice(torch.multinomial(probabilities, 1, false, random).squeeze(1));
    }
}
