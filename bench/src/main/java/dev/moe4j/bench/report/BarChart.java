package dev.moe4j.bench.report;

import java.util.ArrayList;
import java.util.List;

import static dev.moe4j.bench.report.Svg.c;
import static dev.moe4j.bench.report.Svg.esc;

/**
 * Horizontal bars grouped by category (for example per benchmark case: moe4j beside its baseline;
 * or per kernel: forward beside backward). Series are told apart by fill pattern (solid, hatched,
 * dotted, ...), named in a legend, and every bar carries its value and unit as text. The value
 * axis starts at 0 and is labelled with its unit.
 */
public final class BarChart implements Chart {
    static final int W = 920, LABEL = 250, RIGHT = 200, TOP = 40, BOTTOM = 52, BAR = 16, GAP = 12, LEGEND_ROW = 18;

    private record Series(String name, double[] values) {}

    private final String id, title;
    private final List<String> categories;
    private final List<Series> series = new ArrayList<>();
    private String quantity = "value", unit = "";

    /**
     * @param id         unique id
     * @param title      the title
     * @param categories the groups, top to bottom
     */
    public BarChart(String id, String title, List<String> categories) {
        this.id = LineChart.checkId(id);
        this.title = title;
        this.categories = List.copyOf(categories);
    }

    /** The value axis quantity and unit. Returns this. */
    public BarChart axis(String name, String unit) {
        this.quantity = name;
        this.unit = unit;
        return this;
    }

    /**
     * Adds a series: one value per category (NaN: no bar, "n/a").
     *
     * @throws IllegalArgumentException when the count differs from the categories, or a value is negative
     */
    public BarChart series(String name, double[] values) {
        if (values.length != categories.size()) {
            throw new IllegalArgumentException("bar series '" + name + "' has " + values.length + " values for " + categories.size() + " categories");
        }
        for (double v : values) if (v < 0) throw new IllegalArgumentException("bar series '" + name + "' has a negative value " + v);
        series.add(new Series(name, values.clone()));
        return this;
    }

    @Override public String id() { return id; }
    @Override public String title() { return title; }

    @Override
    public int marks() {
        int n = 0;
        for (Series s : series) for (double v : s.values) if (Double.isFinite(v)) n++;
        return n;
    }

    @Override
    public String svg() {
        int groupH = Math.max(1, series.size()) * BAR + GAP;
        // the legend wraps onto more rows when the series names do not fit on one; the bars move down
        double[] legendX = new double[series.size()];
        int[] legendRow = new int[series.size()];
        double lx = LABEL;
        int row = 0;
        for (int si = 0; si < series.size(); si++) {
            double w = 60 + 6.2 * (series.get(si).name.length() + Svg.FILL_NAMES[si % 5].length());
            if (si > 0 && lx + w > W - 10) {
                row++;
                lx = LABEL;
            }
            legendX[si] = lx;
            legendRow[si] = row;
            lx += w;
        }
        int top = TOP + row * LEGEND_ROW;
        int height = top + categories.size() * groupH + BOTTOM;
        StringBuilder b = new StringBuilder();
        b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart-svg\" data-chart=\"").append(id).append("\" role=\"img\" aria-labelledby=\"")
                .append(id).append("-title\" viewBox=\"0 0 ").append(W).append(' ').append(height).append("\" width=\"").append(W).append("\" height=\"")
                .append(height).append("\">");
        b.append("<title id=\"").append(id).append("-title\">").append(esc(title)).append("</title>");
        b.append(Svg.patternDefs(id));
        b.append("<rect x=\"0\" y=\"0\" width=\"").append(W).append("\" height=\"").append(height).append("\" fill=\"white\"/>");
        double max = 0;
        for (Series s : series) for (double v : s.values) if (Double.isFinite(v)) max = Math.max(max, v);
        if (max == 0) max = 1;
        double[] dom = Svg.niceDomain(0, max, true);
        double px0 = LABEL, px1 = W - RIGHT, yb = top + categories.size() * groupH;
        Svg.Scale xs = new Svg.Scale(0, dom[1], px0, px1, false);
        b.append("<g class=\"axis\" font-size=\"11\" fill=\"#222\">");
        for (double t : xs.ticks(6)) {
            double x = xs.at(t);
            b.append("<line x1=\"").append(c(x)).append("\" x2=\"").append(c(x)).append("\" y1=\"").append(top - 4).append("\" y2=\"").append(c(yb + 5))
                    .append("\" stroke=\"").append(t == 0 ? "#222" : "#d9d9d9").append("\"/>");
            b.append("<text x=\"").append(c(x)).append("\" y=\"").append(c(yb + 18)).append("\" text-anchor=\"middle\">").append(Svg.label(t)).append("</text>");
        }
        b.append("<line x1=\"").append(c(px0)).append("\" x2=\"").append(c(px1)).append("\" y1=\"").append(c(yb)).append("\" y2=\"").append(c(yb))
                .append("\" stroke=\"#222\"/>");
        b.append("<text x=\"").append(c((px0 + px1) / 2)).append("\" y=\"").append(height - 12).append("\" text-anchor=\"middle\" font-size=\"12\">")
                .append(esc(LineChart.axisTitle(quantity, unit))).append("</text>");
        b.append("</g>");
        b.append("<g class=\"bars\" font-size=\"11\">");
        for (int ci = 0; ci < categories.size(); ci++) {
            double gy = top + ci * groupH;
            b.append("<text x=\"").append(c(px0 - 8)).append("\" y=\"").append(c(gy + series.size() * BAR / 2.0 + 4)).append("\" text-anchor=\"end\" fill=\"#111\">")
                    .append(esc(LineChart.shorten(categories.get(ci), 40))).append("</text>");
            for (int si = 0; si < series.size(); si++) {
                double v = series.get(si).values[ci], y = gy + si * BAR;
                if (!Double.isFinite(v)) {
                    b.append("<text x=\"").append(c(px0 + 4)).append("\" y=\"").append(c(y + BAR - 4)).append("\" fill=\"#555\">n/a</text>");
                    continue;
                }
                double w = Math.max(1, xs.at(v) - px0);
                b.append("<rect class=\"mark bar\" data-series=\"").append(esc(series.get(si).name)).append("\" x=\"").append(c(px0)).append("\" y=\"")
                        .append(c(y + 1)).append("\" width=\"").append(c(w)).append("\" height=\"").append(BAR - 2).append("\" fill=\"")
                        .append(Svg.fill(id, si)).append("\" stroke=\"#222\" stroke-width=\"0.8\"/>");
                b.append("<text x=\"").append(c(px0 + w + 5)).append("\" y=\"").append(c(y + BAR - 4)).append("\" fill=\"#111\">")
                        .append(esc(Svg.label(v) + (unit.isEmpty() ? "" : " " + unit))).append(series.size() > 1 ? " <tspan fill=\"#555\">" + esc(LineChart.shorten(series.get(si).name, 20)) + "</tspan>" : "")
                        .append("</text>");
            }
        }
        b.append("</g>");
        b.append("<g class=\"legend\" font-size=\"11\">");
        for (int si = 0; si < series.size(); si++) {
            String name = series.get(si).name;
            int y = 10 + legendRow[si] * LEGEND_ROW;
            b.append("<rect x=\"").append(c(legendX[si])).append("\" y=\"").append(y).append("\" width=\"26\" height=\"14\" stroke=\"#222\" stroke-width=\"0.8\" fill=\"")
                    .append(Svg.fill(id, si)).append("\"/>");
            b.append("<text x=\"").append(c(legendX[si] + 32)).append("\" y=\"").append(y + 11).append("\">")
                    .append(esc(name + " (" + Svg.FILL_NAMES[si % 5] + ")")).append("</text>");
        }
        b.append("</g></svg>");
        return b.toString();
    }
}
