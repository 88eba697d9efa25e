package io.nnsight.bench;

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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * Turns the JSON results of the benchmarks ({@code -rf json}) into the tables of {@code docs/benchmarks.md}
 * (printed) and one PNG bar chart per benchmark class, of medians beside the Python figures of {@code
 * ../shared/design/benchmarks.md}.
 *
 * <p>Usage: {@code java -cp jmh/target/benchmarks.jar io.nnsight.bench.Report results.json docs/benchmarks}
 * writes {@code docs/benchmarks-mlp.png}, {@code docs/benchmarks-lm.png} and their {@code -agent} twins, for
 * the benchmark classes in the results.
 */
public final class Report {
    /** The Python figures (min, median, p90 where published; microseconds) and the chart of one benchmark class. */
    private record Suite(String chart, String title, String reference, Map<String, double[]> figures) {}

    private static final Map<String, Suite> SUITES = Map.of(
            "MlpBenchmark", new Suite("mlp", "12-layer MLP: median time per forward pass or trace", "nnsight 0.6.3 (Python)",
                    Map.of("bare forward", new double[] {288, 316, 465},
                            "bare + 12 hooks", new double[] {343, 368, 561},
                            "empty trace", new double[] {606, 1066, 1275},
                            "1 save", new double[] {749, 1216, 1514},
                            "12 saves", new double[] {1014, 1446, 1984})),
            "LmBenchmark", new Suite("lm", "stories260K, 16-token prompt: median time per forward pass or trace",
                    "transformers 5.18 + nnsight 0.6.3 (Python)",
                    Map.of("bare forward", new double[] {2326, 2498, Double.NaN},
                            "empty trace", new double[] {3983, 4321, Double.NaN},
                            "1 save", new double[] {4179, 4568, Double.NaN},
                            "5 saves", new double[] {4635, 5207, Double.NaN})),
            "MlpAgentBenchmark", new Suite("mlp-agent", "12-layer MLP in a JVM started with the agent: median time "
                    + "per forward pass or trace", "", Map.of()),
            "LmAgentBenchmark", new Suite("lm-agent", "stories260K in a JVM started with the agent: median time per "
                    + "forward pass or trace", "", Map.of()));

    private Report() {}

    /** One row: a scenario's percentiles in microseconds. */
    private record Row(double min, double median, double p90, long samples) {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: Report <results.json> <chart path prefix>");
            System.exit(2);
        }
        Map<String, Map<String, Row>> suites = read(Path.of(args[0]));
        suites.replaceAll((suite, rows) -> generationLast(rows));
        for (Map.Entry<String, Map<String, Row>> suite : suites.entrySet()) {
            if (suite.getKey().equals("FamilyBenchmark")) {
                System.out.println("### FamilyBenchmark");
                System.out.println();
                familyTable(suite.getValue());
                System.out.println();
                continue;
            }
            Suite known = SUITES.get(suite.getKey());
            System.out.println("### " + suite.getKey());
            System.out.println();
            table(suite.getValue(), known);
            System.out.println();
            if (known != null) {
                chart(suite.getValue(), known, new File(args[1] + "-" + known.chart + ".png"));
            }
        }
    }

    private static Map<String, Row> generationLast(Map<String, Row> rows) {
        Map<String, Row> ordered = new LinkedHashMap<>();
        rows.forEach((name, row) -> {
            if (!name.contains("generation")) {
                ordered.put(name, row);
            }
        });
        ordered.putAll(rows);
        return ordered;
    }

    private static void table(Map<String, Row> rows, Suite suite) {
        Row bare = rows.get("bare forward");
        boolean references = suite != null && !suite.figures.isEmpty();
        System.out.println("| scenario | min | median | p90 | median over bare | samples |"
                + (references ? " " + suite.reference + " min / median / p90 |" : ""));
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |" + (references ? " ---: |" : ""));
        Set<String> referenced = new HashSet<>();
        for (Map.Entry<String, Row> entry : rows.entrySet()) {
            Row row = entry.getValue();
            String scenario = withoutEngine(entry.getKey());
            double[] reference = !references || !referenced.add(scenario) ? null : suite.figures.get(scenario);
            System.out.printf(Locale.ROOT, "| %s | %.0f | %.0f | %.0f | %s | %d |%s%n", entry.getKey(), row.min, row.median,
                    row.p90, bare == null || row == bare ? "" : String.format(Locale.ROOT, "%+.0f", row.median - bare.median),
                    row.samples, !references ? "" : reference == null ? "  |" : String.format(Locale.ROOT,
                            " %.0f / %.0f / %s |", reference[0], reference[1],
                            Double.isNaN(reference[2]) ? "–" : String.format(Locale.ROOT, "%.0f", reference[2])));
        }
    }

    /** One row per family's model: its bare forward and its 5-save trace, side by side. */
    private static void familyTable(Map<String, Row> rows) {
        System.out.println("| model | bare forward min / median / p90 | 5-save trace min / median / p90 | median over bare |");
        System.out.println("| --- | ---: | ---: | ---: |");
        rows.forEach((name, bare) -> {
            if (name.endsWith(": bare forward")) {
                String model = name.substring(0, name.indexOf(':'));
                Row trace = rows.get(model + ": 5 saves");
                System.out.printf(Locale.ROOT, "| %s | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %+.0f |%n", model, bare.min,
                        bare.median, bare.p90, trace.min, trace.median, trace.p90, trace.median - bare.median);
            }
        });
    }

    private static Map<String, Map<String, Row>> read(Path json) throws IOException {
        Map<String, Map<String, Row>> suites = new LinkedHashMap<>();
        try (Reader reader = Files.newBufferedReader(json, StandardCharsets.UTF_8)) {
            for (JsonElement element : JsonParser.parseReader(reader).getAsJsonArray()) {
                JsonObject result = element.getAsJsonObject();
                String[] name = result.get("benchmark").getAsString().split("\\.");
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
                suites.computeIfAbsent(name[name.length - 2], key -> new LinkedHashMap<>())
                        .put(scenario(name[name.length - 1], result), new Row(percentiles.get("0.0").getAsDouble(),
                                percentiles.get("50.0").getAsDouble(), percentiles.get("90.0").getAsDouble(), samples));
            }
        }
        return suites;
    }

    private static String scenario(String method, JsonObject result) {
        JsonObject params = result.getAsJsonObject("params");
        if (params != null && params.has("fixture")) {
            return params.get("fixture").getAsString() + ": " + (method.equals("bare") ? "bare forward" : "5 saves");
        }
        switch (method) {
            case "bare":
                return "bare forward";
            case "bareWrapped":
                return "bare, wrapped";
            case "bareHooks":
                return "bare + 12 hooks";
            case "generate20":
                return "20-token greedy generation";
            case "trace":
                int saves = Integer.parseInt(params.get("saves").getAsString());
                String name = saves == 0 ? "empty trace" : saves == 1 ? "1 save" : saves + " saves";
                return params.has("engine") ? name + ", " + params.get("engine").getAsString() : name;
            default:
                return method;
        }
    }

    /** A row's scenario without its engine: {@code "1 save"} for {@code "1 save, threads"}. */
    private static String withoutEngine(String row) {
        for (String engine : new String[] {", threads", ", continuations", ", statemachine"}) {
            if (row.endsWith(engine)) {
                return row.substring(0, row.length() - engine.length());
            }
        }
        return row;
    }

    private static void chart(Map<String, Row> rows, Suite suite, File png) throws IOException {
        DefaultCategoryDataset medians = new DefaultCategoryDataset();
        for (Map.Entry<String, Row> entry : rows.entrySet()) {
            if (entry.getKey().contains("generation")) {
                continue; // another scale; in the table only
            }
            String scenario = withoutEngine(entry.getKey());
            String series = scenario.equals(entry.getKey()) ? "nnsight for the JVM"
                    : "nnsight for the JVM, " + entry.getKey().substring(scenario.length() + 2);
            medians.addValue(entry.getValue().median, series, scenario);
        }
        for (Map.Entry<String, double[]> reference : suite.figures.entrySet()) {
            if (medians.getColumnKeys().contains(reference.getKey())) {
                medians.addValue(reference.getValue()[1], suite.reference, reference.getKey());
            }
        }
        JFreeChart chart = ChartFactory.createBarChart(suite.title, null, "microseconds", medians,
                PlotOrientation.VERTICAL, true, false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.getDomainAxis().setMaximumCategoryLabelLines(2);
        BarRenderer renderer = (BarRenderer) plot.getRenderer();
        for (int series = 0; series < medians.getRowCount(); series++) {
            String name = (String) medians.getRowKey(series);
            renderer.setSeriesPaint(series, name.endsWith("(Python)") ? new Color(0xaaaaaa)
                    : name.endsWith("continuations") ? new Color(0x2ca02c)
                    : name.endsWith("threads") ? new Color(0x1f77b4)
                    : name.endsWith("statemachine") ? new Color(0xff7f0e) : new Color(0x3d3d5c));
        }
        renderer.setShadowVisible(false);
        renderer.setDrawBarOutline(false);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png, chart, 1000, 520);
    }
}
