package io.nnsight.cli;

import java.awt.Color;
import java.awt.Font;
import java.io.File;
import java.io.IOException;
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

/** Draws a {@link LogitLens} as a heatmap PNG with JFreeChart: layers up, prompt tokens across. */
final class Heatmap {
    private Heatmap() {}

    static void write(LogitLens lens, String title, File png) throws IOException {
        int layers = lens.top().length;
        int positions = lens.tokens().size();
        double[][] cells = new double[3][layers * positions];
        for (int layer = 0; layer < layers; layer++) {
            for (int position = 0; position < positions; position++) {
                int i = layer * positions + position;
                cells[0][i] = position;
                cells[1][i] = layer;
                cells[2][i] = lens.probability()[layer][position];
            }
        }
        DefaultXYZDataset dataset = new DefaultXYZDataset();
        dataset.addSeries("top-1 probability", cells);

        LookupPaintScale scale = new LookupPaintScale(0, 1.0001, Color.WHITE);
        for (int step = 0; step <= 20; step++) {
            double p = step / 20.0;
            scale.add(p, new Color((int) (255 - 200 * p), (int) (255 - 120 * p), 255));
        }
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);

        SymbolAxis tokens = new SymbolAxis("prompt token", lens.tokens().stream().map(t -> t.isEmpty() ? "''" : t).toArray(String[]::new));
        tokens.setGridBandsVisible(false);
        NumberAxis layerAxis = new NumberAxis("layer");
        layerAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        layerAxis.setRange(-0.5, layers - 0.5);
        tokens.setRange(-0.5, positions - 0.5);
        XYPlot plot = new XYPlot(dataset, tokens, layerAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
        for (int layer = 0; layer < layers; layer++) {
            for (int position = 0; position < positions; position++) {
                XYTextAnnotation label = new XYTextAnnotation(lens.top()[layer][position], position, layer);
                label.setFont(font);
                plot.addAnnotation(label);
            }
        }
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, false);
        NumberAxis legendAxis = new NumberAxis("probability of the top token");
        legendAxis.setRange(0, 1);
        PaintScaleLegend legend = new PaintScaleLegend(scale, legendAxis);
        legend.setPosition(RectangleEdge.RIGHT);
        chart.addSubtitle(legend);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png, chart, Math.max(600, 90 * positions + 200), Math.max(300, 45 * layers + 160));
    }
}
