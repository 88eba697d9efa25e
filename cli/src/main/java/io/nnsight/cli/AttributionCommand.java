package io.nnsight.cli;

import io.nnsight.lm.LanguageModel;
import java.awt.Color;
import java.awt.Font;
import java.io.File;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.DefaultXYZDataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code nnsight attribution}: attribution patching of the next-token preference over layers and positions. */
@Command(name = "attribution", mixinStandardHelpOptions = true,
        description = {"Attribution patching over every layer and prompt position, from one forward and one backward "
                + "pass: (gradient * output).sum(-1) of the logit difference between the model's two favourite next "
                + "tokens, as a table and optionally a heatmap PNG."})
final class AttributionCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt.")
    String prompt;

    @Option(names = "--png", paramLabel = "FILE", description = "Also draw the attributions as a heatmap into this PNG file.")
    File png;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        LanguageModel lm = model.load(Progress.onTerminal(spec.commandLine().getErr()));
        Attribution attribution = Attribution.of(lm, prompt);
        spec.commandLine().getOut().print(attribution.table());
        spec.commandLine().getOut().flush();
        if (png != null) {
            System.setProperty("java.awt.headless", "true");
            draw(attribution, png);
            spec.commandLine().getOut().println("heatmap written to " + png);
        }
        return 0;
    }

    /** Draws the attributions: layers up, prompt tokens across, red for positive, blue for negative. */
    private static void draw(Attribution attribution, File png) throws IOException {
        double[][] values = attribution.values();
        int layers = values.length;
        int positions = attribution.tokens().size();
        double largest = 1e-9;
        double[][] cells = new double[3][layers * positions];
        for (int layer = 0; layer < layers; layer++) {
            for (int position = 0; position < positions; position++) {
                int i = layer * positions + position;
                cells[0][i] = position;
                cells[1][i] = layer;
                cells[2][i] = values[layer][position];
                largest = Math.max(largest, Math.abs(values[layer][position]));
            }
        }
        DefaultXYZDataset dataset = new DefaultXYZDataset();
        dataset.addSeries("attribution", cells);
        LookupPaintScale scale = new LookupPaintScale(-largest, largest * 1.0001, Color.WHITE);
        for (int step = -20; step <= 20; step++) {
            double share = Math.abs(step) / 20.0;
            int fade = (int) (255 - 200 * share);
            scale.add(largest * step / 20.0, step < 0 ? new Color(fade, fade, 255) : new Color(255, fade, fade));
        }
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);
        SymbolAxis tokens = new SymbolAxis("prompt token",
                attribution.tokens().stream().map(token -> token.isEmpty() ? "''" : token).toArray(String[]::new));
        tokens.setGridBandsVisible(false);
        tokens.setRange(-0.5, positions - 0.5);
        NumberAxis layerAxis = new NumberAxis("layer");
        layerAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        layerAxis.setRange(-0.5, layers - 0.5);
        XYPlot plot = new XYPlot(dataset, tokens, layerAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 10);
        for (int layer = 0; layer < layers; layer++) {
            for (int position = 0; position < positions; position++) {
                XYTextAnnotation label = new XYTextAnnotation(String.format(Locale.ROOT, "%.2f",
                        values[layer][position]), position, layer);
                label.setFont(font);
                plot.addAnnotation(label);
            }
        }
        JFreeChart chart = new JFreeChart("Attribution of " + attribution.metric(), JFreeChart.DEFAULT_TITLE_FONT, plot,
                false);
        NumberAxis legendAxis = new NumberAxis("attribution");
        legendAxis.setRange(-largest, largest);
        PaintScaleLegend legend = new PaintScaleLegend(scale, legendAxis);
        legend.setPosition(RectangleEdge.RIGHT);
        chart.addSubtitle(legend);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png, chart, Math.max(600, 70 * positions + 200), Math.max(300, 45 * layers + 160));
    }
}
