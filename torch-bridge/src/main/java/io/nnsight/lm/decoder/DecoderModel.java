package io.nnsight.lm.decoder;

import io.nnsight.Inputs;
import io.nnsight.nn.Dropout;
import io.nnsight.nn.Embedding;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.ModuleList;
import io.nnsight.nn.TensorModule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * A decoder without its output layer (transformers' {@code LlamaModel}, {@code GPT2Model}...): the token
 * embedding, learned positions or rotary embeddings, an optional dropout, the layers and the final norm. Returns
 * the normalised hidden states {@code [batch, tokens, hidden]}.
 *
 * <p>Named inputs: {@code input_ids} {@code [batch, tokens]}; optional {@code attention_mask} {@code [batch, past
 * + tokens]} (1 for real tokens, 0 for padding), {@code position_ids} (counted from the mask when absent) and
 * {@code past_key_values}. Each layer gets the mask of its window.
 */
public final class DecoderModel extends HookedModule {
    /** The layer types, as transformers names them, of a model whose sliding-window layers rotate their own way. */
    private static final String FULL = "full_attention";
    private static final String SLIDING = "sliding_attention";

    private final DecoderSpec spec;
    private final Placement placement;
    private final TensorModule embedding;
    private final Embedding positions;
    private final Dropout dropout;
    private final ModuleList<DecoderLayer> layers;
    private final TensorModule norm;
    private final RotaryEmbedding rotary;
    /** Whether some layer rotates with the full layers' rope, and some with the sliding layers' (when they differ). */
    private final boolean anyFull;
    private final boolean anySliding;

    /** A decoder, its weights uninitialised until loaded. */
    public DecoderModel(DecoderSpec spec, Placement placement) {
        this.spec = spec;
        this.placement = placement;
        Tensor table = placement.parameter(spec.vocabSize, spec.hiddenSize);
        this.embedding = (TensorModule) register(spec.embeddingName(), spec.embeddingScale == null
                ? new Embedding(table) : new ScaledEmbedding(table, spec.embeddingScale));
        this.positions = spec.positionEmbedding == null ? null
                : register(spec.positionEmbedding, new Embedding(placement.parameter(spec.maxPositions, spec.hiddenSize)));
        this.dropout = spec.embeddingDropout == null ? null : register(spec.embeddingDropout, new Dropout(spec.dropout));
        List<DecoderLayer> blocks = new ArrayList<>(spec.layers);
        for (int i = 0; i < spec.layers; i++) {
            blocks.add(new DecoderLayer(spec, i, placement));
        }
        this.layers = register(spec.layersName(), new ModuleList<>(blocks));
        this.norm = (TensorModule) register(spec.finalNormName(), spec.norm.create(spec.hiddenSize, placement));
        this.rotary = spec.rope == null ? null : register("rotary_emb", new RotaryEmbedding(ropes(spec), spec.headDim,
                spec.halfRotaryOutput, placement));
        this.anyFull = hasLayers(spec, false);
        this.anySliding = hasLayers(spec, true);
    }

    /** Runs the decoder; see the class description for the inputs. */
    public Tensor forward(Inputs inputs) {
        return (Tensor) hooked(inputs, this::compute);
    }

    private Tensor compute(Inputs in) {
        DecoderInputs inputs = DecoderInputs.read(in, placement);
        Tensor hidden = embedding.forward(inputs.ids());
        if (positions != null) {
            hidden = hidden.add(positions.forward(inputs.positions()));
        }
        if (dropout != null) {
            hidden = dropout.forward(hidden);
        }
        List<Tensor> rotation = null;
        List<Tensor> localRotation = null;
        if (spec.localRope == null) {
            rotation = rotary == null ? null : rotary.forward(hidden, inputs.positions());
        } else { // as transformers, each layer type's once, for the layers of that type
            rotation = anyFull ? rotary.forward(hidden, inputs.positions(), FULL) : null;
            localRotation = anySliding ? rotary.forward(hidden, inputs.positions(), SLIDING) : null;
        }
        for (int i = 0; i < spec.layers; i++) {
            hidden = layers.get(i).forward(Inputs.of(hidden)
                    .with("attention_mask", inputs.masks().forWindow(spec.windows[i]))
                    .with("position_ids", inputs.positions())
                    .with("past_key_values", inputs.cache())
                    .with("position_embeddings", spec.localLayers[i] ? localRotation : rotation));
        }
        return norm.forward(hidden);
    }

    /** The rotary embeddings by layer type, full layers' first. */
    private static Map<String, Rope> ropes(DecoderSpec spec) {
        if (spec.localRope == null) {
            return Map.of(FULL, spec.rope);
        }
        Map<String, Rope> ropes = new LinkedHashMap<>();
        ropes.put(FULL, spec.rope);
        ropes.put(SLIDING, spec.localRope);
        return ropes;
    }

    /** Whether some layer rotates with the sliding layers' rope ({@code local}), or with the full layers'. */
    private static boolean hasLayers(DecoderSpec spec, boolean local) {
        for (boolean each : spec.localLayers) {
            if (each == local) {
                return true;
            }
        }
        return false;
    }

    /** The token embedding's weight, {@code [vocab, hidden]}. */
    public Tensor embeddingWeight() {
        return embedding instanceof Embedding ? ((Embedding) embedding).weight() : ((ScaledEmbedding) embedding).weight();
    }

    @Override
    public String describe() {
        return spec.family + "Model()";
    }
}
