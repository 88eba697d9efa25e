package io.nnsight.cli;

import io.nnsight.lm.LanguageModel;
import io.nnsight.safetensors.DType;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options that name a language model and where it runs, shared by the commands. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR|ID",
            description = {"A Hugging Face model folder (config.json, model.safetensors, tokenizer.json),",
                "or a hub repository id such as openai-community/gpt2 (downloaded once into the HF cache)."})
    String model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "A tokenizer.json to use instead of the folder's.")
    Path tokenizer;

    @Option(names = "--dtype", paramLabel = "TYPE",
            description = "float32, bfloat16 or float16 (default: the checkpoint's, as transformers loads it).")
    String dtype;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cpu",
            description = "cpu (default), cuda or cuda:N (a build with -Pcuda and a GPU).")
    String device;

    LanguageModel load() {
        return load(model, tokenizer, dtype, device);
    }

    /**
     * Loads {@code model} (a folder or a hub id) as the commands do, with {@code tokenizer} and {@code dtype} if not
     * {@code null}, on {@code device}.
     */
    static LanguageModel load(String model, Path tokenizer, String dtype, String device) {
        LanguageModel.Options options = LanguageModel.Options.defaults().device(device);
        options = tokenizer == null ? options : options.tokenizer(tokenizer);
        return LanguageModel.load(model, dtype == null ? options : options.dtype(DType.parse(dtype)));
    }
}
