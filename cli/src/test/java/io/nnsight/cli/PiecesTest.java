package io.nnsight.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.LanguageModel;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.XYPlot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pieces of the commands: how tokens are shown, the heatmap's layout, progress, the jshell session's set-up. */
class PiecesTest {
    @Test
    void visibleTokens_showSpacesAndBytes() {
        LanguageModel lm = LanguageModel.load(MainTest.shared("models/stories260K").toString());

        assertEquals("␣Lily", LogitLens.visible(lm.tokenizer(), 317));
        assertEquals("<0x0A>", LogitLens.visible(lm.tokenizer(), 13));
        assertEquals("<s>", LogitLens.visible(lm.tokenizer(), 1));
        assertEquals("om", LogitLens.visible(lm.tokenizer(), 287));
        assertEquals("#600", LogitLens.visible(lm.tokenizer(), 600));
    }

    @Test
    void heatmap_ofALongPrompt_wrapsIntoPanels_withLayerZeroOnTop(@TempDir Path dir) throws IOException {
        int positions = 40;
        int layers = 5;
        List<String> tokens = new ArrayList<>();
        String[][] top = new String[layers][positions];
        double[][] probability = new double[layers][positions];
        for (int position = 0; position < positions; position++) {
            tokens.add(position == 3 ? "␣averyveryverylongtoken" : "␣t" + position);
            for (int layer = 0; layer < layers; layer++) {
                top[layer][position] = "x" + layer;
                probability[layer][position] = layer / 4.0;
            }
        }
        LogitLens lens = new LogitLens(tokens, top, probability);
        File png = dir.resolve("lens.png").toFile();

        Heatmap.write(lens, "Logit lens: a long prompt", png);
        JFreeChart first = Heatmap.panel(lens, 0, Heatmap.COLUMNS, Heatmap.COLUMNS);

        BufferedImage image = ImageIO.read(png);
        assertEquals(84 * 16 + 260, image.getWidth());
        assertEquals((36 * layers + 150) + 2 * (36 * layers + 110), image.getHeight(), "three panels");
        XYPlot plot = first.getXYPlot();
        assertTrue(plot.getRangeAxis().isInverted(), "layer 0 at the top, as in the table");
        SymbolAxis axis = (SymbolAxis) plot.getDomainAxis();
        assertEquals("␣averyver…", axis.getSymbols()[3]);
        assertEquals(16, axis.getSymbols().length);
    }

    @Test
    void progress_showsOnATerminalOnly() {
        StringWriter shown = new StringWriter();
        StringWriter quiet = new StringWriter();

        for (Progress progress : List.of(new Progress(new PrintWriter(shown), true), new Progress(new PrintWriter(quiet), false))) {
            progress.show("nnsight: loading a model ...");
            progress.show("nnsight: done");
            progress.clear();
        }

        assertEquals("\rnnsight: loading a model ...\rnnsight: done" + " ".repeat(15) + "\r" + " ".repeat(13) + "\r",
                shown.toString());
        assertEquals("", quiet.toString());
    }

    @Test
    void jshellSession_importsTheApi_andLoadsTheModel() {
        String startup = JshellCommand.startup("../shared/models/stories260K");

        assertTrue(startup.startsWith("import io.nnsight.*;\nimport io.nnsight.lm.*;\n"), startup);
        assertTrue(startup.contains("LanguageModel lm = LanguageModel.load(\"../shared/models/stories260K\");"), startup);
        assertTrue(JshellCommand.classPath().stream().anyMatch(entry -> entry.contains("picocli")), JshellCommand.classPath().toString());
        picocli.CommandLine command = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        JshellCommand jshell = command.getSubcommands().get("jshell").getCommand();
        command.parseArgs("jshell", "-q", "--model", "DIR", "session.jsh");
        assertEquals(List.of("-q", "session.jsh"), jshell.jshellArguments);
        assertEquals("DIR", jshell.model);
    }
}
