package dev.moe4j.bench.report;

import java.util.ArrayList;
import java.util.List;

import static dev.moe4j.bench.report.Svg.c;
import static dev.moe4j.bench.report.Svg.esc;

/**
 * Lines over a shared x axis (for example loss against training step), one per series. Series are
 * told apart without colour: each has its own dash pattern and marker shape, a legend entry, and
 * its name written at the end of its line. Axes carry their quantity and unit; the y axis can be
 * logarithmic. NaN values leave a gap. Long series are thinned to at most 800 points.
 *
 * <pre>{@code
 * new LineChart("loss", "Training loss").x("step", "steps").y("MSE", "").logY(true)
 *         .series("aux", steps, losses).svg()
 * }</pre>
 */
public final class LineChart implements Chart {
    static final int W = 920, H = 340, LEFT = 78, RIGHT = 150, TOP = 44, BOTTOM = 58;
    private static final int MAX_POINTS = 800;

    private record Series(String name, double[] x, double[] y) {}

    private final String id, title;
    private final List<Series> series = new ArrayList<>();
    private String xName = "x", xUnit = "", yName = "y", yUnit = "";
    private boolean logY, yFromZero;

    /**
     * @param id    unique id (letters, digits, dashes)
     * @param title the title
     * @throws IllegalArgumentException for an id with other characters
     */
    public LineChart(String id, String title) {
        this.id = checkId(id);
        this.title = title;
    }

    static String checkId(String id) {
        if (id == null || !id.matches("[A-Za-z][A-Za-z0-9-]*")) throw new IllegalArgumentException("chart id must be letters, digits and dashes, got '" + id + "'");
        return id;
    }

    /** The x axis quantity and unit (unit may be empty). Returns this. */
    public LineChart x(String name, String unit) {
        this.xName = name;
        this.xUnit = unit;
        return this;
    }

    /** The y axis quantity and unit (unit may be empty). Returns this. */
    public LineChart y(String name, String unit) {
        this.yName = name;
        this.yUnit = unit;
        return this;
    }

    /** A base-10 logarithmic y axis (non-positive values are left out). Returns this. */
    public LineChart logY(boolean on) {
        this.logY = on;
        return this;
    }

    /** Starts a linear y axis at 0 (or ends it there, for negative data). Returns this. */
    public LineChart yFromZero(boolean on) {
        this.yFromZero = on;
        return this;
    }

    /**
     * Adds a series.
     *
     * @throws IllegalArgumentException when x and y differ in length
     */
    public LineChart series(String name, double[] x, double[] y) {
        if (x.length != y.length) throw new IllegalArgumentException("series '" + name + "': " + x.length + " x values, " + y.length + " y values");
        series.add(new Series(name, x.clone(), y.clone()));
        return this;
    }

    /** The number of series. */
    public int seriesCount() { return series.size(); }

    @Override public String id() { return id; }
    @Override public String title() { return title; }

    private boolean usable(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y) && (!logY || y > 0);
    }

    @Override
    public int marks() {
        int n = 0;
        for (Series s : series) {
            for (int i = 0; i < s.x.length; i++) {
                if (usable(s.x[i], s.y[i])) {
                    n++;
                    break;
                }
            }
        }
        return n;
    }

    @Override
    public String svg() {
        double xmin = Double.POSITIVE_INFINITY, xmax = Double.NEGATIVE_INFINITY, ymin = Double.POSITIVE_INFINITY, ymax = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x.length; i++) {
                if (!usable(s.x[i], s.y[i])) continue;
                xmin = Math.min(xmin, s.x[i]);
                xmax = Math.max(xmax, s.x[i]);
                ymin = Math.min(ymin, s.y[i]);
                ymax = Math.max(ymax, s.y[i]);
            }
        }
        // legend entries, wrapped into rows; the plot starts under the last row
        List<double[]> legend = new ArrayList<>();
        double lx = LEFT, ly = 16;
        for (int si = 0; si < series.size(); si++) {
            double width = 44 + 6.2 * shorten(series.get(si).name, 28).length();
            if (lx + width > W - 10 && lx > LEFT) {
                lx = LEFT;
                ly += 16;
            }
            legend.add(new double[] {lx, ly});
            lx += width;
        }
        int height = H + (int) (ly - 16);
        StringBuilder b = new StringBuilder();
        b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart-svg\" data-chart=\"").append(id).append("\" role=\"img\" aria-labelledby=\"")
                .append(id).append("-title\" viewBox=\"0 0 ").append(W).append(' ').append(height).append("\" width=\"").append(W).append("\" height=\"")
                .append(height).append("\">");
        b.append("<title id=\"").append(id).append("-title\">").append(esc(title)).append("</title>");
        b.append("<rect x=\"0\" y=\"0\" width=\"").append(W).append("\" height=\"").append(height).append("\" fill=\"white\"/>");
        double px0 = LEFT, px1 = W - RIGHT, py0 = height - BOTTOM, py1 = TOP + (ly - 16);
        if (xmin > xmax) {
            b.append("<text x=\"").append(W / 2).append("\" y=\"").append(height / 2).append("\" text-anchor=\"middle\" class=\"empty\">no data</text></svg>");
            return b.toString();
        }
        double[] xd = Svg.niceDomain(xmin, xmax, false);
        if (xmin >= 0 && xd[0] < 0) xd[0] = 0;
        Svg.Scale xs = new Svg.Scale(xd[0], xd[1], px0, px1, false);
        Svg.Scale ys;
        if (logY) {
            double lo = Math.pow(10, Math.floor(Math.log10(ymin))), hi = Math.pow(10, Math.ceil(Math.log10(ymax)));
            if (hi <= lo) hi = lo * 10;
            ys = new Svg.Scale(lo, hi, py0, py1, true);
        } else {
            double[] yd = Svg.niceDomain(ymin, ymax, yFromZero);
            ys = new Svg.Scale(yd[0], yd[1], py0, py1, false);
        }
        // grid and tick labels
        b.append("<g class=\"axis\" font-size=\"11\" fill=\"#222\">");
        for (double t : ys.ticks(5)) {
            double y = ys.at(t);
            b.append("<line x1=\"").append(c(px0)).append("\" x2=\"").append(c(px1)).append("\" y1=\"").append(c(y)).append("\" y2=\"").append(c(y))
                    .append("\" stroke=\"#d9d9d9\"/>");
            b.append("<text x=\"").append(c(px0 - 6)).append("\" y=\"").append(c(y + 4)).append("\" text-anchor=\"end\">").append(Svg.label(t)).append("</text>");
        }
        for (double t : xs.ticks(8)) {
            double x = xs.at(t);
            b.append("<line x1=\"").append(c(x)).append("\" x2=\"").append(c(x)).append("\" y1=\"").append(c(py0)).append("\" y2=\"").append(c(py0 + 5))
                    .append("\" stroke=\"#222\"/>");
            b.append("<text x=\"").append(c(x)).append("\" y=\"").append(c(py0 + 18)).append("\" text-anchor=\"middle\">").append(Svg.label(t)).append("</text>");
        }
        b.append("<line x1=\"").append(c(px0)).append("\" x2=\"").append(c(px1)).append("\" y1=\"").append(c(py0)).append("\" y2=\"").append(c(py0))
                .append("\" stroke=\"#222\"/>");
        b.append("<line x1=\"").append(c(px0)).append("\" x2=\"").append(c(px0)).append("\" y1=\"").append(c(py0)).append("\" y2=\"").append(c(py1))
                .append("\" stroke=\"#222\"/>");
        b.append("<text x=\"").append(c((px0 + px1) / 2)).append("\" y=\"").append(height - 14).append("\" text-anchor=\"middle\" font-size=\"12\">")
                .append(esc(axisTitle(xName, xUnit))).append("</text>");
        b.append("<text transform=\"translate(16 ").append(c((py0 + py1) / 2)).append(") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">")
                .append(esc(axisTitle(yName, yUnit) + (logY ? ", log scale" : ""))).append("</text>");
        b.append("</g>");

        // series
        List<double[]> ends = new ArrayList<>();
        for (int si = 0; si < series.size(); si++) {
            Series s = series.get(si);
            String ink = Svg.ink(si), dash = Svg.dash(si);
            int stride = Math.max(1, (s.x.length + MAX_POINTS - 1) / MAX_POINTS);
            b.append("<g class=\"series\" data-series=\"").append(esc(s.name)).append("\">");
            StringBuilder pts = new StringBuilder();
            double lastX = Double.NaN, lastY = Double.NaN;
            int drawn = 0;
            for (int i = 0; i < s.x.length; i++) {
                boolean keep = i % stride == 0 || i == s.x.length - 1;
                if (!keep) continue;
                if (!usable(s.x[i], s.y[i])) {
                    drawn += flush(b, pts, ink, dash);
                    continue;
                }
                lastX = xs.at(s.x[i]);
                lastY = ys.at(s.y[i]);
                pts.append(c(lastX)).append(',').append(c(lastY)).append(' ');
            }
            drawn += flush(b, pts, ink, dash);
            // markers: about 8 per series, shifted per series so that they do not sit on top of each other
            List<Integer> finite = new ArrayList<>();
            for (int i = 0; i < s.x.length; i++) if (usable(s.x[i], s.y[i])) finite.add(i);
            int every = Math.max(1, finite.size() / 8);
            for (int j = (si * every / Math.max(1, series.size())) % every; j < finite.size(); j += every) {
                int i = finite.get(j);
                b.append(Svg.marker(Svg.markerShape(si), xs.at(s.x[i]), ys.at(s.y[i]), ink, "mark point"));
            }
            b.append("</g>");
            if (drawn > 0 || !finite.isEmpty()) ends.add(new double[] {si, lastX, lastY});
        }
        // end labels, pushed apart vertically
        ends.sort((p, q) -> Double.compare(p[2], q[2]));
        double prev = Double.NEGATIVE_INFINITY;
        b.append("<g class=\"end-labels\" font-size=\"11\">");
        for (double[] e : ends) {
            double y = Math.max(e[2] + 4, prev + 13);
            prev = y;
            Series s = series.get((int) e[0]);
            b.append("<text x=\"").append(c(px1 + 8)).append("\" y=\"").append(c(y)).append("\" fill=\"").append(Svg.ink((int) e[0]))
                    .append("\">").append(esc(shorten(s.name, 22))).append("</text>");
        }
        b.append("</g>");
        // legend
        b.append("<g class=\"legend\" font-size=\"11\">");
        for (int si = 0; si < series.size(); si++) {
            String ink = Svg.ink(si), dash = Svg.dash(si);
            String name = shorten(series.get(si).name, 28);
            double x = legend.get(si)[0], y = legend.get(si)[1];
            b.append("<line x1=\"").append(c(x)).append("\" x2=\"").append(c(x + 30)).append("\" y1=\"").append(c(y)).append("\" y2=\"").append(c(y))
                    .append("\" stroke=\"").append(ink).append("\" stroke-width=\"2\"").append(dash.isEmpty() ? "" : " stroke-dasharray=\"" + dash + "\"").append("/>");
            b.append(Svg.marker(Svg.markerShape(si), x + 15, y, ink, "legend-marker"));
            b.append("<text x=\"").append(c(x + 36)).append("\" y=\"").append(c(y + 4)).append("\">").append(esc(name)).append("</text>");
        }
        b.append("</g></svg>");
        return b.toString();
    }

    /** Writes the pending points as one polyline; returns 1 when one was written. */
    private static int flush(StringBuilder b, StringBuilder pts, String ink, String dash) {
        if (pts.isEmpty()) return 0;
        b.append("<polyline class=\"mark line\" fill=\"none\" stroke=\"").append(ink).append("\" stroke-width=\"2\"")
                .append(dash.isEmpty() ? "" : " stroke-dasharray=\"" + dash + "\"").append(" points=\"").append(pts.toString().trim()).append("\"/>");
        pts.setLength(0);
        return 1;
    }

    static String axisTitle(String name, String unit) {
        return unit == null || unit.isEmpty() ? name : name + " (" + unit + ")";
    }

    static String shorten(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
