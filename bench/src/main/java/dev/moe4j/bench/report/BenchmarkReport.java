package dev.moe4j.bench.report;

import dev.moe4j.bench.insight.Fmt;

import java.util.ArrayList;
import java.util.List;

/**
 * A benchmark report: for each case, moe4j's figure (GFLOP/s, GB/s, ...) beside the baseline
 * measured in the same run, as a bar chart and a table with the ratio.
 *
 * <pre>{@code
 * new BenchmarkReport("SGEMM", "throughput", "GFLOP/s", "moe4j", "OpenBLAS")
 *         .add("512 x 512 x 512, 1 thread", 61.2, 80.4).html().write(path);
 * }</pre>
 */
public final class BenchmarkReport {
    private record Row(String name, double value, double baseline) {}

    private final String title, quantity, unit, measuredName, baselineName;
    private final List<Row> rows = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    /**
     * @param title        the report title
     * @param quantity     what is measured ("throughput", "bandwidth")
     * @param unit         its unit ("GFLOP/s", "GB/s")
     * @param measuredName the name of the measured code
     * @param baselineName the name of the baseline
     */
    public BenchmarkReport(String title, String quantity, String unit, String measuredName, String baselineName) {
        this.title = title;
        this.quantity = quantity;
        this.unit = unit;
        this.measuredName = measuredName;
        this.baselineName = baselineName;
    }

    /** Adds a case: the measured value and the baseline's (NaN when not measured). Returns this. */
    public BenchmarkReport add(String name, double value, double baseline) {
        rows.add(new Row(name, value, baseline));
        return this;
    }

    /** Adds a paragraph under the chart (machine, method). Returns this. */
    public BenchmarkReport note(String text) {
        notes.add(text);
        return this;
    }

    /**
     * The report.
     *
     * @throws IllegalArgumentException when no case was added
     */
    public HtmlReport html() {
        if (rows.isEmpty()) throw new IllegalArgumentException("a benchmark report needs at least one case");
        List<String> names = new ArrayList<>();
        double[] v = new double[rows.size()], base = new double[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            names.add(rows.get(i).name());
            v[i] = rows.get(i).value();
            base[i] = rows.get(i).baseline();
        }
        HtmlReport r = new HtmlReport(title);
        r.section(LineChart.axisTitle(quantity, unit) + ": " + measuredName + " beside " + baselineName);
        BarChart chart = new BarChart("bench", title, names).axis(quantity, unit).series(measuredName, v).series(baselineName, base);
        r.chart(chart, "Each case shows " + measuredName + " (solid bar) beside " + baselineName + " (hatched bar), both measured in the same run;"
                + " higher is better.");
        List<List<String>> t = new ArrayList<>();
        for (Row row : rows) {
            t.add(List.of(row.name(), Fmt.fixed(row.value(), 2), Double.isFinite(row.baseline()) ? Fmt.fixed(row.baseline(), 2) : "n/a",
                    Double.isFinite(row.baseline()) && row.baseline() > 0 ? Fmt.fixed(100 * row.value() / row.baseline(), 0) + "%" : "n/a"));
        }
        r.table(List.of("case", measuredName + " (" + unit + ")", baselineName + " (" + unit + ")", "ratio"), t, "The figures of the chart");
        for (String n : notes) r.paragraph(n);
        return r;
    }
}
