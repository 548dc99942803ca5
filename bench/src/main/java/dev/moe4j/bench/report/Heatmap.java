package dev.moe4j.bench.report;

import java.util.ArrayList;
import java.util.List;

import static dev.moe4j.bench.report.Svg.c;
import static dev.moe4j.bench.report.Svg.esc;

/**
 * A grid of cells, rows by columns (for example experts by training step), shaded from white (0)
 * to black (the largest value): lightness, not hue, carries the value, so it reads in greyscale
 * print. A legend maps five shades to values; cells large enough show their value as text.
 * More than 160 columns are averaged into 160 bins.
 */
public final class Heatmap implements Chart {
    static final int W = 920, LEFT = 78, RIGHT = 150, TOP = 24, BOTTOM = 58;
    private static final int MAX_COLUMNS = 160;

    private final String id, title;
    private final List<String> rowLabels;
    private final double[] columns;
    private final double[][] values;
    private String xName = "x", xUnit = "", valueName = "value", valueUnit = "";
    private double valueScale = 1;
    private double fixedMax = Double.NaN;

    /**
     * @param id        unique id
     * @param title     the title
     * @param rowLabels one label per row
     * @param columns   the x value of each column (e.g. the step)
     * @param values    [rows][columns] values, each &gt;= 0 (NaN: no data)
     * @throws IllegalArgumentException for ragged or mismatched arrays
     */
    public Heatmap(String id, String title, List<String> rowLabels, double[] columns, double[][] values) {
        this.id = LineChart.checkId(id);
        this.title = title;
        if (values.length != rowLabels.size()) throw new IllegalArgumentException("heatmap: " + values.length + " rows of values, " + rowLabels.size() + " labels");
        for (double[] r : values) {
            if (r.length != columns.length) throw new IllegalArgumentException("heatmap: a row has " + r.length + " values for " + columns.length + " columns");
        }
        this.rowLabels = List.copyOf(rowLabels);
        this.columns = columns.clone();
        this.values = new double[values.length][];
        for (int i = 0; i < values.length; i++) this.values[i] = values[i].clone();
    }

    /** The x axis quantity and unit. Returns this. */
    public Heatmap x(String name, String unit) {
        this.xName = name;
        this.xUnit = unit;
        return this;
    }

    /** What a cell holds, its unit, and a factor applied for display (e.g. 100 for percent). Returns this. */
    public Heatmap value(String name, String unit, double displayScale) {
        this.valueName = name;
        this.valueUnit = unit;
        this.valueScale = displayScale;
        return this;
    }

    /** The value drawn black (default: the largest value), so that several heatmaps share one scale. Returns this. */
    public Heatmap maxValue(double max) {
        this.fixedMax = max;
        return this;
    }

    @Override public String id() { return id; }
    @Override public String title() { return title; }

    @Override
    public int marks() {
        return values.length == 0 ? 0 : Math.min(columns.length, MAX_COLUMNS) * values.length;
    }

    @Override
    public String svg() {
        int rows = values.length, n = columns.length;
        int bins = Math.min(n, MAX_COLUMNS);
        double cellH = rows == 0 ? 0 : Math.max(7, Math.min(24, 260.0 / rows));
        int height = (int) Math.ceil(TOP + rows * cellH + BOTTOM);
        StringBuilder b = new StringBuilder();
        b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart-svg\" data-chart=\"").append(id).append("\" role=\"img\" aria-labelledby=\"")
                .append(id).append("-title\" viewBox=\"0 0 ").append(W).append(' ').append(height).append("\" width=\"").append(W).append("\" height=\"")
                .append(height).append("\">");
        b.append("<title id=\"").append(id).append("-title\">").append(esc(title)).append("</title>");
        b.append("<rect x=\"0\" y=\"0\" width=\"").append(W).append("\" height=\"").append(height).append("\" fill=\"white\"/>");
        if (rows == 0 || n == 0) {
            b.append("<text x=\"").append(W / 2).append("\" y=\"").append(height / 2).append("\" text-anchor=\"middle\" class=\"empty\">no data</text></svg>");
            return b.toString();
        }
        // bin columns: bin j averages columns [from(j), from(j + 1))
        double[][] binned = new double[rows][bins];
        double[] binX0 = new double[bins], binX1 = new double[bins];
        for (int j = 0; j < bins; j++) {
            int from = (int) ((long) j * n / bins), to = (int) ((long) (j + 1) * n / bins);
            binX0[j] = columns[from];
            binX1[j] = columns[to - 1];
            for (int r = 0; r < rows; r++) {
                double s = 0;
                int cnt = 0;
                for (int i = from; i < to; i++) {
                    if (Double.isFinite(values[r][i])) {
                        s += values[r][i];
                        cnt++;
                    }
                }
                binned[r][j] = cnt == 0 ? Double.NaN : s / cnt;
            }
        }
        double max = 0;
        for (double[] r : binned) for (double v : r) if (Double.isFinite(v)) max = Math.max(max, v);
        if (Double.isFinite(fixedMax) && fixedMax > 0) max = fixedMax;
        if (max == 0) max = 1;
        double px0 = LEFT, px1 = W - RIGHT, cellW = (px1 - px0) / bins;
        boolean text = cellW >= 30 && cellH >= 14;
        b.append("<g class=\"cells\">");
        for (int r = 0; r < rows; r++) {
            double y = TOP + r * cellH;
            for (int j = 0; j < bins; j++) {
                double v = binned[r][j];
                double x = px0 + j * cellW;
                b.append("<rect class=\"mark cell\" x=\"").append(c(x)).append("\" y=\"").append(c(y)).append("\" width=\"").append(c(cellW + 0.3))
                        .append("\" height=\"").append(c(cellH + 0.3)).append("\" fill=\"").append(Double.isFinite(v) ? shade(v / max) : "url(#" + id + "-p1)")
                        .append("\"/>");
                if (text && Double.isFinite(v)) {
                    b.append("<text x=\"").append(c(x + cellW / 2)).append("\" y=\"").append(c(y + cellH / 2 + 4)).append("\" font-size=\"10\" text-anchor=\"middle\" fill=\"")
                            .append(v / max > 0.55 ? "white" : "#111").append("\">").append(Svg.label(round(v * valueScale))).append("</text>");
                }
            }
        }
        b.append("</g>");
        b.append(Svg.patternDefs(id));
        // axes
        b.append("<g class=\"axis\" font-size=\"11\" fill=\"#222\">");
        int labelEvery = (int) Math.ceil(rows * 12.0 / (rows * cellH));
        for (int r = 0; r < rows; r += Math.max(1, labelEvery)) {
            b.append("<text x=\"").append(c(px0 - 6)).append("\" y=\"").append(c(TOP + r * cellH + cellH / 2 + 4)).append("\" text-anchor=\"end\">")
                    .append(esc(rowLabels.get(r))).append("</text>");
        }
        double yb = TOP + rows * cellH;
        // x ticks at round values, placed assuming evenly spaced columns (cell centres at the first and last value)
        double first = columns[0], last = columns[n - 1];
        List<double[]> ticks = new ArrayList<>();
        double c0 = (binX0[0] + binX1[0]) / 2, c1 = (binX0[bins - 1] + binX1[bins - 1]) / 2;
        if (last > first && c1 > c0) {
            Svg.Scale xs = new Svg.Scale(c0, c1, px0 + cellW / 2, px1 - cellW / 2, false);
            for (double t : xs.ticks(8)) if (t >= first && t <= last) ticks.add(new double[] {xs.at(t), t});
        } else {
            ticks.add(new double[] {(px0 + px1) / 2, first});
        }
        for (double[] tick : ticks) {
            double x = tick[0], value = tick[1];
            b.append("<line x1=\"").append(c(x)).append("\" x2=\"").append(c(x)).append("\" y1=\"").append(c(yb)).append("\" y2=\"").append(c(yb + 5))
                    .append("\" stroke=\"#222\"/>");
            b.append("<text x=\"").append(c(x)).append("\" y=\"").append(c(yb + 18)).append("\" text-anchor=\"middle\">").append(Svg.label(value)).append("</text>");
        }
        b.append("<text x=\"").append(c((px0 + px1) / 2)).append("\" y=\"").append(c(yb + 44)).append("\" text-anchor=\"middle\" font-size=\"12\">")
                .append(esc(LineChart.axisTitle(xName, xUnit) + (n > bins ? ", " + n + " columns averaged into " + bins + " bins" : ""))).append("</text>");
        b.append("</g>");
        // legend: five shades with their values
        b.append("<g class=\"legend\" font-size=\"11\">");
        b.append("<text x=\"").append(c(px1 + 12)).append("\" y=\"").append(TOP + 8).append("\">").append(esc(LineChart.axisTitle(valueName, valueUnit)))
                .append("</text>");
        for (int i = 0; i <= 4; i++) {
            double t = i / 4.0, y = TOP + 16 + i * 18;
            b.append("<rect x=\"").append(c(px1 + 12)).append("\" y=\"").append(c(y)).append("\" width=\"22\" height=\"14\" stroke=\"#555\" fill=\"")
                    .append(shade(t)).append("\"/>");
            b.append("<text x=\"").append(c(px1 + 40)).append("\" y=\"").append(c(y + 11)).append("\">").append(Svg.label(round(t * max * valueScale)))
                    .append("</text>");
        }
        b.append("</g></svg>");
        return b.toString();
    }

    private static double round(double v) {
        return Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 10) / 10.0;
    }

    /** Grey of lightness falling with t in [0, 1]: white-ish at 0, near-black at 1. */
    static String shade(double t) {
        t = Math.max(0, Math.min(1, t));
        int g = (int) Math.round(250 - 222 * t);
        return String.format("#%02x%02x%02x", g, g, g);
    }
}
