package io.nnsight.cli;

import io.nnsight.lm.LanguageModel;
import java.nio.file.Files;
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

    /** Loads the model, showing that it does on a terminal. */
    LanguageModel load(Progress progress) {
        return load(model, tokenizer, placement, progress);
    }

    /**
     * Loads {@code model} (a folder or a hub id) as the commands do, with {@code tokenizer} if not {@code null}, in
     * the type and on the device of {@code placement}; the mistakes of the command line are named by its options.
     */
    static LanguageModel load(String model, Path tokenizer, PlacementOptions placement, Progress progress) {
        if (tokenizer != null && !Files.isRegularFile(tokenizer)) {
            throw new IllegalArgumentException("--tokenizer " + tokenizer + ": no such file");
        }
        Path folder = Path.of(model);
        if (tokenizer == null && Files.isRegularFile(folder.resolve("config.json"))
                && !Files.exists(folder.resolve("tokenizer.json"))) {
            throw new IllegalArgumentException(folder + " has no tokenizer.json: give one with --tokenizer FILE");
        }
        LanguageModel.Options options = placement.applyTo(LanguageModel.Options.defaults());
        progress.show("nnsight: loading " + model + " ...");
        try {
            return LanguageModel.load(model, tokenizer == null ? options : options.tokenizer(tokenizer));
        } finally {
            progress.clear();
        }
    }
}
