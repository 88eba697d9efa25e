package io.nnsight.lm;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Where an architecture keeps its main modules, as Hugging Face's transformers names them: the paths a
 * recipe written for one family needs to run on another.
 *
 * <pre>{@code
 * ModulePaths paths = lm.paths();                  // Pythia: gpt_neox.embed_in, gpt_neox.layers, ...
 * Tensor hidden = lm.trace(prompt, tr -> lm.get(paths.layer(3)).output());
 * lm.get(paths.mlp(1));                            // "gpt_neox.layers.1.mlp"
 * lm.get("layers.1.mlp");                          // the same module, by its standard name
 * }</pre>
 *
 * @param embedding the token embedding ({@code model.embed_tokens}, {@code transformer.wte}, {@code gpt_neox.embed_in})
 * @param layers the list of decoder layers ({@code model.layers}, {@code transformer.h})
 * @param attention a layer's attention, relative to the layer ({@code self_attn}, {@code attn}, {@code attention})
 * @param mlp a layer's MLP, relative to the layer ({@code mlp})
 * @param finalNorm the norm after the last layer ({@code model.norm}, {@code transformer.ln_f})
 * @param lmHead the output layer ({@code lm_head})
 */
public record ModulePaths(String embedding, String layers, String attention, String mlp, String finalNorm, String lmHead) {
    public ModulePaths {
        Objects.requireNonNull(embedding, "embedding");
        Objects.requireNonNull(layers, "layers");
        Objects.requireNonNull(attention, "attention");
        Objects.requireNonNull(mlp, "mlp");
        Objects.requireNonNull(finalNorm, "finalNorm");
        Objects.requireNonNull(lmHead, "lmHead");
    }

    /** Layer {@code index}: {@code model.layers.3}. */
    public String layer(int index) {
        return layers + "." + index;
    }

    /** The attention of layer {@code index}: {@code model.layers.3.self_attn}. */
    public String attention(int index) {
        return layer(index) + "." + attention;
    }

    /** The MLP of layer {@code index}: {@code model.layers.3.mlp}. */
    public String mlp(int index) {
        return layer(index) + "." + mlp;
    }

    /**
     * The standard names of these modules, as {@link io.nnsight.NNsight#rename} takes them: {@code embed}, {@code
     * layers} (so {@code layers.N}), {@code attn} and {@code mlp} in each layer, {@code ln_final} and {@code
     * lm_head}, nnterp's names, the same for every architecture. A language model has them from the start.
     */
    public Map<String, String> standardNames() {
        Map<String, String> names = new LinkedHashMap<>();
        names.put(embedding, "embed");
        names.put(layers, "layers");
        names.put(attention, "attn");
        names.put(mlp, "mlp");
        names.put(finalNorm, "ln_final");
        names.put(lmHead, "lm_head");
        return names;
    }
}
