package io.nnsight.cli;

import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Tokenizer;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code nnsight generate}: prints the text a model generates from a prompt, token by token as it comes. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate text from a prompt (an empty prompt starts from the BOS token), printed as it comes.",
            "Greedy by default; --temperature samples, with --seed for the same text each time."})
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = {"-p", "--prompt"}, defaultValue = "", description = "The prompt (default: empty).")
    String prompt;

    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N", defaultValue = "20",
            description = "How many tokens at most (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--greedy", description = "Pick the most likely token at each step (the default).")
    boolean greedy;

    @Option(names = "--temperature", paramLabel = "T", description = "Sample with this temperature (above 0; 1 samples "
            + "from the model's own distribution).")
    Double temperature;

    @Option(names = "--seed", paramLabel = "SEED", description = "Seed the sampling, for the same text each time "
            + "(with --temperature).")
    Long seed;

    @Option(names = "--top-k", paramLabel = "K", description = "Sample among the K most likely tokens (with --temperature).")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "Sample among the most likely tokens up to probability P "
            + "(with --temperature).")
    Double topP;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        Generation generation = generation();
        PrintWriter out = spec.commandLine().getOut();
        LanguageModel lm = model.load(Progress.onTerminal(spec.commandLine().getErr()));
        out.print(prompt);
        out.flush();
        Tokenizer tokenizer = lm.tokenizer();
        long[] promptIds = tokenizer.encode(prompt);
        if (promptIds.length == 0 && tokenizer.bos() >= 0) {
            promptIds = new long[] {tokenizer.bos()}; // what the model starts from, as for the generation itself
        }
        long[] start = promptIds;
        lm.generate(prompt, generation, tr -> {
            Stream stream = new Stream(tokenizer, start, out);
            for (int step : tr.all()) {
                stream.add(lm.get("generator.streamer").output().item_long());
            }
            return null;
        });
        out.println();
        return 0;
    }

    /**
     * Prints generated text as it grows. Each step decodes the prompt and all tokens so far (a tokenizer
     * attaches the space before a word to the word's first token only in context) and prints what is new,
     * holding back a byte that is only part of a character until the character is complete.
     */
    private static final class Stream {
        private final Tokenizer tokenizer;
        private final List<Long> ids = new ArrayList<>();
        private final String before;
        private final PrintWriter out;
        private String printed = "";

        Stream(Tokenizer tokenizer, long[] prompt, PrintWriter out) {
            this.tokenizer = tokenizer;
            for (long id : prompt) {
                ids.add(id);
            }
            this.before = tokenizer.decode(prompt);
            this.out = out;
        }

        void add(long token) {
            ids.add(token);
            String all = tokenizer.decode(ids);
            String text = all.startsWith(before) ? all.substring(before.length()) : all;
            if (text.startsWith(printed) && !text.endsWith("\uFFFD")) {
                out.print(text.substring(printed.length()));
                out.flush();
                printed = text;
            }
        }
    }

    /** The decoding the options ask for; their mistakes are named by the options. */
    private Generation generation() {
        if (maxNewTokens < 1) {
            throw usage("-n/--max-new-tokens must be at least 1, got " + maxNewTokens);
        }
        Generation generation = Generation.maxNewTokens(maxNewTokens);
        if (temperature == null) {
            List<String> samplingOnly = new ArrayList<>();
            if (seed != null) {
                samplingOnly.add("--seed");
            }
            if (topK != null) {
                samplingOnly.add("--top-k");
            }
            if (topP != null) {
                samplingOnly.add("--top-p");
            }
            if (!samplingOnly.isEmpty()) {
                throw usage(String.join(", ", samplingOnly) + (samplingOnly.size() == 1 ? " applies" : " apply")
                        + " to sampling, which --temperature turns on: add --temperature 1 to sample from the model's own "
                        + "distribution (greedy decoding, the default, gives the same text every time without a seed)");
            }
            return generation;
        }
        if (greedy) {
            throw usage("--greedy picks the most likely token and --temperature samples: give one of them");
        }
        if (!(temperature > 0)) {
            throw usage("--temperature must be above 0, got " + temperature + " (for the most likely token at each step, "
                    + "use --greedy)");
        }
        generation = generation.temperature(temperature);
        if (topK != null) {
            if (topK < 0) {
                throw usage("--top-k must be 0 (all tokens) or more, got " + topK);
            }
            generation = generation.topK(topK);
        }
        if (topP != null) {
            if (!(topP > 0 && topP <= 1)) {
                throw usage("--top-p must be above 0 and at most 1, got " + topP);
            }
            generation = generation.topP(topP);
        }
        return seed == null ? generation : generation.seed(seed);
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
