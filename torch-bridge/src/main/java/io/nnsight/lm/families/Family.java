package io.nnsight.lm.families;

import io.nnsight.lm.ModulePaths;
import io.nnsight.lm.decoder.DecoderSpec;

/**
 * An architecture, by transformers' {@code model_type}: how a {@code config.json} of that type becomes a {@link
 * DecoderSpec} for the shared blocks, where its main modules are, and how its checkpoints name the weights. A
 * family is a short declarative class: the fields it honours, the defaults transformers gives them, and the
 * ways its model departs from Llama's layout.
 *
 * <pre>{@code
 * Family family = Families.of(config);            // by config.json's model_type
 * DecoderSpec spec = family.decoder(config);      // refuses fields it cannot honour, naming them
 * ModulePaths paths = family.paths();             // model.embed_tokens, model.layers, self_attn, mlp, ...
 * }</pre>
 *
 * <p>{@code docs/architectures.md} lists the families, the fields each honours and refuses, and how to add one.
 */
public abstract class Family {
    private final String modelType;
    private final ModulePaths paths;

    /** A family of transformers' {@code modelType} whose main modules are at {@code paths}. */
    protected Family(String modelType, ModulePaths paths) {
        this.modelType = modelType;
        this.paths = paths;
    }

    /** transformers' {@code model_type}: {@code "llama"}, {@code "gpt_neox"}... */
    public final String modelType() {
        return modelType;
    }

    /** Where the family's main modules are, as transformers names them. */
    public final ModulePaths paths() {
        return paths;
    }

    /**
     * The {@code quant_method} of a {@code quantization_config} that this family's checkpoints may have, whose weights
     * it dequantizes as it loads them; {@code null} (the default) for none, and {@link Families} refuses quantized
     * checkpoints. GPT-OSS's: {@code mxfp4}, where a stacked parameter {@code P} is stored as {@code P_blocks} and
     * {@code P_scales}.
     */
    public String quantization() {
        return null;
    }

    /**
     * The model {@code config} describes.
     *
     * @throws IllegalArgumentException naming the field, when a field is missing or has a value this library
     *     does not honour (a rope type, attention of another kind...)
     */
    public abstract DecoderSpec decoder(HfConfig config);

    /**
     * The parameter that a checkpoint's tensor fills: {@code name} itself, unless the family's checkpoints name it
     * otherwise (Pythia's {@code embed_out.weight} is transformers' {@code lm_head.weight}).
     */
    public String parameterName(String name) {
        return name;
    }

    /**
     * The part of a parameter that a checkpoint's tensor fills, for a family whose checkpoints store one parameter as
     * several tensors (Mixtral's experts, each its own {@code w1}, {@code w2}, {@code w3}, which transformers 5 stacks
     * into {@code experts.gate_up_proj} and {@code experts.down_proj}); {@code null} for a tensor that fills a whole
     * parameter, {@link #parameterName}'s.
     */
    public Part part(String name) {
        return null;
    }

    /**
     * A part of a parameter: along its first dimension, entry {@code index}; of that, along its next dimension,
     * {@code chunk} of {@code chunks} equal chunks (Mixtral's {@code w3} of expert 5 is chunk 1 of 2 of {@code
     * gate_up_proj[5]}).
     *
     * @param parameter the parameter's name
     */
    public record Part(String parameter, long index, int chunk, int chunks) {
        /** Checks the arguments. */
        public Part {
            if (index < 0 || chunks < 1 || chunk < 0 || chunk >= chunks) {
                throw new IllegalArgumentException("no chunk " + chunk + " of " + chunks + " at " + index);
            }
        }
    }

    /**
     * Whether a checkpoint's tensor that fills no parameter is left alone: buffers that older checkpoints
     * saved ({@code rotary_emb.inv_freq}, GPT-2's and GPT-NeoX's causal-mask {@code bias}). Any other tensor
     * without a parameter fails the load, since it means the checkpoint is not of the architecture described.
     */
    public boolean ignores(String name) {
        return name.endsWith(".rotary_emb.inv_freq");
    }
}
