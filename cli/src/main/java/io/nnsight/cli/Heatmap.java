package io.nnsight.cli;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.DefaultXYZDataset;

/**
 * Draws a {@link LogitLens} as a heatmap PNG with JFreeChart: a row per layer, layer 0 at the top as in the
 * table, a column per prompt token. A long prompt wraps into several panels of {@value #COLUMNS} tokens, one
 * under the other, so that cells stay wide enough to read their token.
 */
final class Heatmap {
    /** Prompt tokens per panel. */
    static final int COLUMNS = 16;
    private static final int CELL_WIDTH = 84;
    private static final int CELL_HEIGHT = 36;
    /** Characters of a token shown in a cell or on the axis; longer tokens end in an ellipsis. */
    private static final int LABEL_LENGTH = 10;

    private Heatmap() {}

    /** Writes the lens into {@code png}; {@code title} heads the first panel. */
    static void write(LogitLens lens, String title, File png) throws IOException {
        int positions = lens.tokens().size();
        int layers = lens.top().length;
        int columns = Math.min(COLUMNS, positions);
        int width = CELL_WIDTH * columns + 260;
        List<BufferedImage> panels = new ArrayList<>();
        for (int from = 0; from < positions; from += COLUMNS) {
            int to = Math.min(positions, from + COLUMNS);
            boolean first = from == 0;
            JFreeChart chart = panel(lens, from, to, columns);
            if (first) {
                TextTitle heading = new TextTitle(title, new Font(Font.SANS_SERIF, Font.BOLD, 16));
                chart.setTitle(heading);
            }
            int height = CELL_HEIGHT * layers + (first ? 150 : 110);
            panels.add(chart.createBufferedImage(width, height));
        }
        int height = panels.stream().mapToInt(BufferedImage::getHeight).sum();
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D graphics = image.createGraphics();
        int y = 0;
        for (BufferedImage panel : panels) {
            graphics.drawImage(panel, 0, y, null);
            y += panel.getHeight();
        }
        graphics.dispose();
        ImageIO.write(image, "png", png);
    }

    /** The panel of prompt positions {@code [from, to)}, {@code columns} cells wide. */
    static JFreeChart panel(LogitLens lens, int from, int to, int columns) {
        int layers = lens.top().length;
        double[][] cells = new double[3][layers * (to - from)];
        int i = 0;
        for (int layer = 0; layer < layers; layer++) {
            for (int position = from; position < to; position++) {
                cells[0][i] = position - from;
                cells[1][i] = layer;
                cells[2][i] = lens.probability()[layer][position];
                i++;
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

        String[] labels = new String[columns];
        boolean longLabels = false;
        for (int column = 0; column < columns; column++) {
            labels[column] = from + column < to ? abbreviated(lens.tokens().get(from + column)) : "";
            longLabels |= labels[column].length() > 7;
        }
        SymbolAxis tokens = new SymbolAxis(to - from == lens.tokens().size() ? "prompt token"
                : "prompt tokens " + (from + 1) + "–" + to + " of " + lens.tokens().size(), labels);
        tokens.setGridBandsVisible(false);
        tokens.setRange(-0.5, columns - 0.5);
        tokens.setVerticalTickLabels(longLabels);
        tokens.setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        NumberAxis layerAxis = new NumberAxis("layer");
        layerAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        layerAxis.setRange(-0.5, layers - 0.5);
        layerAxis.setInverted(true);
        XYPlot plot = new XYPlot(dataset, tokens, layerAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
        for (int layer = 0; layer < layers; layer++) {
            for (int position = from; position < to; position++) {
                XYTextAnnotation label = new XYTextAnnotation(abbreviated(lens.top()[layer][position]), position - from, layer);
                label.setFont(font);
                plot.addAnnotation(label);
            }
        }
        JFreeChart chart = new JFreeChart(null, JFreeChart.DEFAULT_TITLE_FONT, plot, false);
        NumberAxis legendAxis = new NumberAxis("probability of the top token");
        legendAxis.setRange(0, 1);
        PaintScaleLegend legend = new PaintScaleLegend(scale, legendAxis);
        legend.setPosition(RectangleEdge.RIGHT);
        legend.setMargin(4, 12, 4, 8);
        chart.addSubtitle(legend);
        chart.setBackgroundPaint(Color.WHITE);
        chart.setPadding(new org.jfree.chart.ui.RectangleInsets(8, 8, 8, 16));
        return chart;
    }

    /** {@code token}, cut to {@value #LABEL_LENGTH} characters with an ellipsis. */
    static String abbreviated(String token) {
        return token.codePointCount(0, token.length()) <= LABEL_LENGTH ? token
                : token.substring(0, token.offsetByCodePoints(0, LABEL_LENGTH - 1)) + "…";
    }
}
