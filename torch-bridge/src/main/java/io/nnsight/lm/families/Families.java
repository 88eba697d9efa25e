package io.nnsight.lm.families;

import java.util.List;
import java.util.stream.Collectors;

/** The families this library implements, found by a {@code config.json}'s {@code model_type}. */
public final class Families {
    private static final List<Family> ALL = List.of(new Llama(), new Mistral(), new Mixtral(), new Qwen2(), new Qwen3(),
            new Qwen2Moe(), new Qwen3Moe(), new Gemma2(), new Gemma3(), new Gemma3ImageText(), new Phi3(), new Olmo2(),
            new Olmo3(), new Olmoe(), new GptOss(), new GptNeoX(), new Gpt2());

    private Families() {}

    /** The {@code model_type} of every family. */
    public static List<String> modelTypes() {
        return ALL.stream().map(Family::modelType).collect(Collectors.toList());
    }

    /**
     * The family of {@code config}'s {@code model_type}, after the checks every family shares.
     *
     * @throws IllegalArgumentException naming the field, for a {@code model_type} no family implements (the message
     *     lists those that do) or a quantized checkpoint ({@code quantization_config}) other than the family's own
     *     ({@link Family#quantization()}: GPT-OSS's MXFP4)
     */
    public static Family of(HfConfig config) {
        String type = config.modelType();
        Family family = ALL.stream().filter(each -> each.modelType().equals(type)).findFirst().orElseThrow(
                () -> new IllegalArgumentException(config.file() + " describes a '" + type + "' model (model_type); "
                        + "this library implements " + String.join(", ", modelTypes())));
        if (config.has("quantization_config")) {
            HfConfig quantization = config.section("quantization_config");
            String method = quantization.has("quant_method") ? quantization.string("quant_method") : "unnamed";
            if (!method.equals(family.quantization())) {
                throw config.refused("quantization_config", "quantized checkpoints (this one's quant_method: " + method
                        + "; bitsandbytes, GPTQ, AWQ, ...) are not supported" + (family.quantization() == null ? ""
                        : " (" + type + "'s " + family.quantization() + " is)") + "; load the unquantized weights, and "
                        + "pick their type with LanguageModel.Options.dtype");
            }
        }
        return family;
    }
}
