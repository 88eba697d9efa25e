package io.nnsight.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.Color;
import java.io.File;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * Turns the JSON results of {@link MlpBenchmark} ({@code -rf json}) into the table of {@code
 * docs/benchmarks.md} (printed) and a PNG bar chart of medians beside nnsight 0.6.3's.
 *
 * <p>Usage: {@code java -cp jmh/target/benchmarks.jar io.nnsight.bench.Report results.json chart.png}
 */
public final class Report {
    /** nnsight 0.6.3 on a 2-core machine of this kind (min, median, p90, microseconds). */
    private static final Map<String, double[]> NNSIGHT = Map.of(
            "bare forward", new double[] {288, 316, 465},
            "bare + 12 hooks", new double[] {343, 368, 561},
            "empty trace", new double[] {606, 1066, 1275},
            "1 save", new double[] {749, 1216, 1514},
            "12 saves", new double[] {1014, 1446, 1984});

    private Report() {}

    /** One row: a scenario's percentiles in microseconds. */
    private record Row(double min, double median, double p90, long samples) {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: Report <results.json> <chart.png>");
            System.exit(2);
        }
        Map<String, Row> rows = read(Path.of(args[0]));
        Row bare = rows.get("bare forward");
        System.out.println("| scenario | min | median | p90 | median over bare | samples | nnsight 0.6.3 min / median / p90 |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (Map.Entry<String, Row> entry : rows.entrySet()) {
            Row row = entry.getValue();
            double[] reference = NNSIGHT.get(entry.getKey());
            System.out.printf(Locale.ROOT, "| %s | %.0f | %.0f | %.0f | %s | %d | %s |%n", entry.getKey(), row.min, row.median,
                    row.p90, bare == null || row == bare ? "" : String.format(Locale.ROOT, "%+.0f", row.median - bare.median),
                    row.samples, reference == null ? "" : String.format(Locale.ROOT, "%.0f / %.0f / %.0f", reference[0],
                            reference[1], reference[2]));
        }
        chart(rows, new File(args[1]));
    }

    private static Map<String, Row> read(Path json) throws IOException {
        Map<String, Row> rows = new LinkedHashMap<>();
        try (Reader reader = Files.newBufferedReader(json, StandardCharsets.UTF_8)) {
            JsonArray results = JsonParser.parseReader(reader).getAsJsonArray();
            for (JsonElement element : results) {
                JsonObject result = element.getAsJsonObject();
                JsonObject metric = result.getAsJsonObject("primaryMetric");
                JsonObject percentiles = metric.getAsJsonObject("scorePercentiles");
                long samples = 0;
                for (JsonElement iteration : metric.getAsJsonArray("rawDataHistogram")) {
                    for (JsonElement bucket : iteration.getAsJsonArray()) {
                        for (JsonElement pair : bucket.getAsJsonArray()) {
                            samples += pair.getAsJsonArray().get(1).getAsLong();
                        }
                    }
                }
                rows.put(scenario(result), new Row(percentiles.get("0.0").getAsDouble(),
                        percentiles.get("50.0").getAsDouble(), percentiles.get("90.0").getAsDouble(), samples));
            }
        }
        return rows;
    }

    private static String scenario(JsonObject result) {
        String method = result.get("benchmark").getAsString().replaceAll(".*\\.", "");
        switch (method) {
            case "bare":
                return "bare forward";
            case "bareWrapped":
                return "bare, wrapped";
            case "bareHooks":
                return "bare + 12 hooks";
            case "trace":
                int saves = Integer.parseInt(result.getAsJsonObject("params").get("saves").getAsString());
                return saves == 0 ? "empty trace" : saves == 1 ? "1 save" : saves + " saves";
            default:
                return method;
        }
    }

    private static void chart(Map<String, Row> rows, File png) throws IOException {
        DefaultCategoryDataset medians = new DefaultCategoryDataset();
        for (Map.Entry<String, Row> entry : rows.entrySet()) {
            medians.addValue(entry.getValue().median, "nnsight for the JVM (thread engine)", entry.getKey());
            double[] reference = NNSIGHT.get(entry.getKey());
            medians.addValue(reference == null ? null : reference[1], "nnsight 0.6.3 (Python)", entry.getKey());
        }
        JFreeChart chart = ChartFactory.createBarChart("12-layer MLP: median time per forward pass or trace",
                null, "microseconds", medians, PlotOrientation.VERTICAL, true, false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.getDomainAxis().setMaximumCategoryLabelLines(2);
        BarRenderer renderer = (BarRenderer) plot.getRenderer();
        renderer.setSeriesPaint(0, new Color(0x1f77b4));
        renderer.setSeriesPaint(1, new Color(0xaaaaaa));
        renderer.setShadowVisible(false);
        renderer.setDrawBarOutline(false);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png, chart, 1000, 520);
    }
}
