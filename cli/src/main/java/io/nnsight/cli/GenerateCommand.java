package io.nnsight.cli;

import io.nnsight.lm.Generated;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code nnsight generate}: prints the text a model generates from a prompt. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt (an empty prompt starts from the BOS token).")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = {"-p", "--prompt"}, defaultValue = "", description = "The prompt (default: empty).")
    String prompt;

    @Option(names = {"-n", "--max-new-tokens"}, defaultValue = "20", description = "How many tokens at most (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @ArgGroup(exclusive = true)
    Decoding decoding = new Decoding();

    /** Greedy, or sampling with a temperature and a seed. */
    static final class Decoding {
        @Option(names = "--greedy", description = "Pick the most likely token at each step (the default).")
        boolean greedy;

        @ArgGroup(exclusive = false)
        Sampling sampling;
    }

    /** Sampling settings. */
    static final class Sampling {
        @Option(names = "--temperature", required = true, description = "Sample with this temperature.")
        double temperature;

        @Option(names = "--seed", description = "Seed the sampling, for reproducible text.")
        Long seed;

        @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens.")
        int topK;

        @Option(names = "--top-p", defaultValue = "1", description = "Sample among the most likely tokens up to this probability.")
        double topP;
    }

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        LanguageModel lm = model.load();
        Generation generation = Generation.maxNewTokens(maxNewTokens);
        Sampling sampling = decoding.sampling;
        if (sampling != null) {
            generation = generation.temperature(sampling.temperature).topK(sampling.topK).topP(sampling.topP);
            if (sampling.seed != null) {
                generation = generation.seed(sampling.seed);
            }
        }
        Generated generated = lm.generate(prompt, generation);
        spec.commandLine().getOut().println(prompt + generated.texts().get(0));
        return 0;
    }
}
