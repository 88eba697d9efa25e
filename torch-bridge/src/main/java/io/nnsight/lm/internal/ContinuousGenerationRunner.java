package io.nnsight.lm.internal;

import io.nnsight.Inputs;
import io.nnsight.lm.CausalLM;
import io.nnsight.lm.Generation;
import io.nnsight.lm.KvCache;
import io.nnsight.lm.decoder.Placement;
import io.nnsight.spi.ContinuousBatch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * The generation loop of a continuous batch ({@code spi.ContinuousBatch}): generations join at step boundaries and
 * leave when done, each computing what it computes alone ({@link GenerationRunner}).
 *
 * <p>Per generation it keeps its own ids, finished flags, options ({@link Generation}: its token count, its EOS stop,
 * its own CPU generator for its seed) and step count; the batch shares one {@link KvCache} and one attention mask
 * whose rows are the generations' in order. At each boundary:
 *
 * <ol>
 *   <li><b>Join.</b> New generations of equal batching key (padded prompt length, padding) run their prompt together,
 *       a forward pass of their rows only with a fresh cache: their step 0. Their cache and mask are then merged into
 *       the batch's, the shorter side left-padded (zeros in the cache, 0 in the mask), rows concatenated. Positions
 *       come from each row's mask, so a row's positions stay its own.
 *   <li><b>Leave.</b> A generation that reached its token count, or whose rows all hit EOS, ends its steps, runs the
 *       {@code generator} on its own ids (a pass of its rows only) and finishes; its rows are dropped from the cache
 *       and mask, and so are the columns that are padding in every remaining row.
 *   <li><b>Step.</b> One forward pass of every running generation's newest tokens.
 * </ol>
 *
 * <p>Each step's tokens are picked per generation from its own rows (greedy: argmax per row; sampling: {@code
 * multinomial} on its rows with its generator), so a seed samples what it samples alone. Only the float rounding of
 * batched products differs from a run alone, and a step's attention takes the masked path once any row is padded:
 * greedy generations get their tokens, logits within about 1e-5.
 */
public final class ContinuousGenerationRunner implements ContinuousBatch.Runner {
    private final CausalLM model;
    private final GeneratorModule generator;
    private final PromptInputs batching;
    private final long[] eos;
    private final long pad;

    /**
     * @param eos the ids that end a sequence
     * @param pad the id that fills a sequence after it ended
     */
    public ContinuousGenerationRunner(CausalLM model, GeneratorModule generator, PromptInputs batching, long[] eos,
            long pad) {
        this.model = model;
        this.generator = generator;
        this.batching = batching;
        this.eos = eos;
        this.pad = pad;
    }

    /** One generation of the batch and where it stands. */
    private static final class Running {
        final ContinuousBatch.Lane lane;
        final Generation generation;
        final GeneratorOptional random;
        Tensor all;
        Tensor next;
        Tensor finished;
        int steps;

        Running(ContinuousBatch.Lane lane, Generation generation) {
            this.lane = lane;
            this.generation = generation;
            this.random = generation.seed() == null ? new GeneratorOptional()
                    : new GeneratorOptional(torch.createCPUGenerator(generation.seed()));
            this.all = lane.inputs().tensor("input_ids");
        }

        boolean done(long[] eos) {
            return steps >= generation.maxNewTokens()
                    || steps > 0 && generation.stopAtEos() && eos.length > 0 && torch.all(finished).item_bool();
        }
    }

    @Override
    public void run(ContinuousBatch.Control control) {
        Placement placement = batching.placement();
        List<Running> batch = new ArrayList<>();
        KvCache cache = null;
        Tensor mask = null;
        while (true) {
            List<ContinuousBatch.Lane> joined = control.admit();
            for (List<Running> group : byKey(control, joined)) {
                List<Running> starting = new ArrayList<>();
                for (Running member : group) {
                    if (member.done(eos)) {
                        leave(control, member);
                    } else {
                        starting.add(member);
                    }
                }
                if (starting.isEmpty()) {
                    continue;
                }
                Tensor ids = cat(starting, running -> running.lane.inputs().tensor("input_ids"));
                Tensor promptMask = cat(starting, running -> running.lane.inputs().tensor("attention_mask"));
                KvCache fresh = new KvCache(model.layers());
                step(control, starting, ids, promptMask, fresh, placement);
                promptMask = torch.cat(new TensorVector(promptMask, ones(ids.size(0), placement)), 1);
                Survivors kept = survivors(control, starting, placement);
                if (kept.members.isEmpty()) {
                    continue;
                }
                if (kept.rows != null) {
                    fresh = fresh.select(kept.rows, 0);
                    promptMask = promptMask.index_select(0, kept.rows);
                }
                if (batch.isEmpty()) {
                    cache = fresh;
                    mask = promptMask;
                } else {
                    cache = cache.concat(fresh);
                    long length = Math.max(mask.size(1), promptMask.size(1));
                    mask = torch.cat(new TensorVector(padLeft(mask, length, placement), padLeft(promptMask, length,
                            placement)), 0);
                }
                batch.addAll(kept.members);
            }
            if (batch.isEmpty()) {
                if (joined.isEmpty()) {
                    return;
                }
                continue;
            }
            Tensor next = cat(batch, running -> running.next);
            step(control, batch, next, mask, cache, placement);
            mask = torch.cat(new TensorVector(mask, ones(mask.size(0), placement)), 1);
            Survivors kept = survivors(control, batch, placement);
            batch = kept.members;
            if (batch.isEmpty()) {
                cache = null;
                mask = null;
            } else if (kept.rows != null) {
                mask = mask.index_select(0, kept.rows);
                // the columns that are padding in every remaining row, on the left
                long from = mask.sum(new long[] {0}).gt(new Scalar(0)).to(ScalarType.Long).argmax().item_long();
                cache = cache.select(kept.rows, from);
                mask = mask.narrow(1, from, mask.size(1) - from);
            }
        }
    }

    /** Groups {@code joined} by batching key, in order; a lane whose options the loop cannot run fails alone. */
    private List<List<Running>> byKey(ContinuousBatch.Control control, List<ContinuousBatch.Lane> joined) {
        Map<Object, List<Running>> groups = new LinkedHashMap<>();
        for (ContinuousBatch.Lane lane : joined) {
            if (!(lane.options() instanceof Generation)) {
                control.fail(lane, new IllegalArgumentException("a generation needs a Generation as its options, not "
                        + lane.options()));
                continue;
            }
            Generation generation = (Generation) lane.options();
            try {
                batching.checkLength(lane.inputs().tensor("input_ids").size(1), generation.maxNewTokens());
            } catch (IllegalArgumentException e) {
                control.fail(lane, e);
                continue;
            }
            groups.computeIfAbsent(lane.key(), key -> new ArrayList<>()).add(new Running(lane, generation));
        }
        return new ArrayList<>(groups.values());
    }

    /**
     * One forward pass of {@code members}' rows, {@code ids} with {@code mask} and {@code cache}, then each one's
     * next tokens through the streamer, as {@link GenerationRunner} takes one step.
     */
    private void step(ContinuousBatch.Control control, List<Running> members, Tensor ids, Tensor mask, KvCache cache,
            Placement placement) {
        List<ContinuousBatch.Lane> lanes = new ArrayList<>(members.size());
        for (Running member : members) {
            lanes.add(member.lane);
        }
        Tensor streamed = control.forward(lanes, () -> {
            Tensor logits = model.forward(Inputs.of()
                    .with("input_ids", ids)
                    .with("attention_mask", mask)
                    .with("past_key_values", cache));
            Tensor last = logits.select(1, logits.size(1) - 1).to(ScalarType.Float);
            Tensor[] tokens = new Tensor[members.size()];
            long row = 0;
            for (int i = 0; i < members.size(); i++) {
                Running member = members.get(i);
                long size = member.lane.size();
                if (member.finished == null) {
                    member.finished = torch.zeros(new long[] {size}, placement.bools());
                }
                Tensor token = GenerationRunner.pick(member.generation, last.narrow(0, row, size), member.random,
                        placement);
                tokens[i] = torch.where(member.finished, new Scalar(pad), token);
                row += size;
            }
            return generator.streamer().forward(torch.cat(new TensorVector(tokens), 0).unsqueeze(1));
        });
        long row = 0;
        for (Running member : members) {
            long size = member.lane.size();
            member.next = streamed.narrow(0, row, size);
            member.all = torch.cat(new TensorVector(member.all, member.next), 1);
            if (member.generation.stopAtEos() && eos.length > 0) {
                member.finished = member.finished.logical_or(GenerationRunner.isEos(member.next.squeeze(1), eos));
            }
            member.steps++;
            row += size;
        }
    }

    /**
     * The generations that go on after a pass, and their rows in it.
     *
     * @param rows the indices of their rows among the pass's, or {@code null} when every generation goes on
     */
    private record Survivors(List<Running> members, Tensor rows) {}

    /** Ends each of {@code members} that is done ({@link #leave}) and tells which go on, with their rows. */
    private Survivors survivors(ContinuousBatch.Control control, List<Running> members, Placement placement) {
        List<Running> kept = new ArrayList<>(members.size());
        List<Tensor> rows = new ArrayList<>(members.size());
        long row = 0;
        for (Running member : members) {
            if (member.done(eos) || member.lane.hasEnded()) {
                leave(control, member);
            } else {
                kept.add(member);
                rows.add(torch.arange(new Scalar(row), new Scalar(row + member.lane.size()), placement.longs()));
            }
            row += member.lane.size();
        }
        if (kept.size() == members.size()) {
            return new Survivors(kept, null);
        }
        return new Survivors(kept, kept.isEmpty() ? null : torch.cat(new TensorVector(rows.toArray(new Tensor[0])), 0));
    }

    /** Ends {@code member}: its steps, the generator on its ids (a pass of its rows only), its outcome. */
    private void leave(ContinuousBatch.Control control, Running member) {
        if (!member.lane.hasEnded()) {
            control.endSteps(member.lane);
            control.forward(List.of(member.lane), () -> generator.forward(member.all));
        }
        control.finish(member.lane);
    }

    private interface Part {
        Tensor of(Running member);
    }

    private static Tensor cat(List<Running> members, Part part) {
        Tensor[] parts = new Tensor[members.size()];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = part.of(members.get(i));
        }
        return parts.length == 1 ? parts[0] : torch.cat(new TensorVector(parts), 0);
    }

    private static Tensor ones(long rows, Placement placement) {
        return torch.ones(new long[] {rows, 1}, placement.longs());
    }

    private static Tensor padLeft(Tensor mask, long length, Placement placement) {
        long missing = length - mask.size(1);
        if (missing == 0) {
            return mask;
        }
        return torch.cat(new TensorVector(torch.zeros(new long[] {mask.size(0), missing}, placement.longs()), mask), 1);
    }
}
