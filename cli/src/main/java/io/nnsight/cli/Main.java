package io.nnsight.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code nnsight} command: look inside language models while they run.
 *
 * <pre>
 * nnsight demo                                   a tour on a model the project builds itself (offline)
 * nnsight demo --model DIR                       generation, logit lens and activation patching on a language model
 * nnsight generate --model DIR --prompt P        generated text
 * nnsight logit-lens --model DIR --prompt P      each layer's top tokens, as a table and optionally a PNG
 * nnsight serve --model DIR --api-keys FILE      host models for remote traces, until Ctrl-C
 * nnsight jshell [--model DIR]                   explore interactively: jshell with nnsight ready (and lm loaded)
 * </pre>
 *
 * Errors in the input (a missing model folder, a prompt too long for the model) are printed as one message
 * and exit with status 1; {@code -Dnnsight.debug=true} prints their stack trace too.
 */
@Command(name = "nnsight", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Look inside language models while they run: nnsight for the JVM.",
        subcommands = {DemoCommand.class, GenerateCommand.class, LogitLensCommand.class, AttributionCommand.class,
            ServeCommand.class, JshellCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The root command; picocli makes it. */
    public Main() {
        // picocli injects spec
    }

    /** Runs the command line {@code args} and exits with its status (0 for success, 1 for an error, 2 for usage). */
    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /**
     * Runs the command line {@code args}, printing to {@code out} and {@code err}, and flushes both (a
     * command's last {@code print} would otherwise stay in the writer's buffer); returns the exit status.
     */
    static int execute(String[] args, PrintWriter out, PrintWriter err) {
        try {
            return commandLine(out, err).execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The command line, printing to {@code out} and {@code err}, with errors printed as one message. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine command = new CommandLine(new Main());
        command.setOut(out);
        command.setErr(err);
        command.setExecutionExceptionHandler((error, line, parsed) -> {
            if (Boolean.getBoolean("nnsight.debug")) {
                error.printStackTrace(line.getErr());
            }
            line.getErr().println("nnsight: " + error.getMessage());
            return 1;
        });
        return command;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The version of the library, from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"nnsight for the JVM " + (version == null ? "(development build)" : version)};
        }
    }
}
