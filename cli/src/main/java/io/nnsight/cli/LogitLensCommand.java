package io.nnsight.cli;

import io.nnsight.lm.LanguageModel;
import java.io.File;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code nnsight logit-lens}: each layer's top token at each prompt position. */
@Command(name = "logit-lens", mixinStandardHelpOptions = true,
        description = "Show what each layer would predict at each position of a prompt, as a table and optionally a heatmap PNG.")
final class LogitLensCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt.")
    String prompt;

    @Option(names = "--png", paramLabel = "FILE", description = "Also draw the lens as a heatmap into this PNG file.")
    File png;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        LanguageModel lm = model.load(Progress.onTerminal(spec.commandLine().getErr()));
        LogitLens lens = LogitLens.of(lm, prompt);
        spec.commandLine().getOut().print(lens.table());
        if (png != null) {
            System.setProperty("java.awt.headless", "true");
            Heatmap.write(lens, "Logit lens: " + prompt, png);
            spec.commandLine().getOut().println("heatmap written to " + png);
        }
        return 0;
    }
}
