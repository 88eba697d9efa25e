package io.nnsight.cli;

import io.nnsight.lm.LanguageModel;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options that name a language model and where it runs, shared by the commands. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR|ID",
            description = {"A Hugging Face model folder (config.json, model.safetensors, tokenizer.json),",
                "or a hub repository id such as openai-community/gpt2 (downloaded once into the HF cache)."})
    String model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "A tokenizer.json to use instead of the folder's.")
    Path tokenizer;

    @Mixin
    PlacementOptions placement = new PlacementOptions();

    LanguageModel load() {
        return load(model, tokenizer, placement);
    }

    /** Loads {@code model} (a folder or a hub id) as the commands do, with {@code tokenizer} if not {@code null}. */
    static LanguageModel load(String model, Path tokenizer, PlacementOptions placement) {
        LanguageModel.Options options = placement.applyTo(LanguageModel.Options.defaults());
        return LanguageModel.load(model, tokenizer == null ? options : options.tokenizer(tokenizer));
    }
}
