package dev.moe4j.bench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Small helpers for writing SVG by hand: escaping, coordinates, axis scales with "nice" ticks,
 * tick labels, and the fill patterns that tell series apart without colour.
 */
public final class Svg {
    private Svg() {}

    /** Escapes text for XML content and attribute values. */
    public static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** A coordinate with one decimal. */
    static String c(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    /** A compact number for a tick or value label: {@code 0.25}, {@code 1500}, {@code 1.2e-05}. */
    public static String label(double v) {
        if (v == 0) return "0";
        if (!Double.isFinite(v)) return Double.isNaN(v) ? "NaN" : v > 0 ? "inf" : "-inf";
        double a = Math.abs(v);
        if (a >= 1e6 || a < 1e-3) {
            String s = String.format(Locale.ROOT, "%.2e", v);
            return s.replaceAll("\\.?0+e", "e").replace("e+0", "e").replace("e+", "e").replace("e-0", "e-");
        }
        String s = String.format(Locale.ROOT, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
        if (s.contains(".")) s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        return s;
    }

    /**
     * A linear or base-10 logarithmic map from data values to pixels.
     *
     * @param lo    the smallest value (positive for a log scale)
     * @param hi    the largest value
     * @param p0    pixel of lo
     * @param p1    pixel of hi
     * @param log   logarithmic
     */
    record Scale(double lo, double hi, double p0, double p1, boolean log) {
        double at(double v) {
            if (log) {
                double l0 = Math.log10(lo), l1 = Math.log10(hi);
                return p0 + (Math.log10(Math.max(v, lo)) - l0) / (l1 - l0) * (p1 - p0);
            }
            return p0 + (v - lo) / (hi - lo) * (p1 - p0);
        }

        /** Tick values: nice round numbers (linear) or powers of ten (log). */
        List<Double> ticks(int target) {
            List<Double> out = new ArrayList<>();
            if (log) {
                int e0 = (int) Math.floor(Math.log10(lo) + 1e-9), e1 = (int) Math.ceil(Math.log10(hi) - 1e-9);
                int stride = Math.max(1, (e1 - e0 + target - 1) / target);
                for (int e = e0; e <= e1; e += stride) {
                    double v = Math.pow(10, e);
                    if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.add(v);
                }
                if (out.size() < 2) {
                    for (double m : new double[] {2, 5}) {
                        for (int e = e0 - 1; e <= e1; e++) {
                            double v = m * Math.pow(10, e);
                            if (v >= lo && v <= hi) out.add(v);
                        }
                    }
                    out.sort(Double::compare);
                }
                return out;
            }
            double step = niceStep((hi - lo) / Math.max(1, target));
            double start = Math.ceil(lo / step - 1e-9) * step;
            for (double v = start; v <= hi + step * 1e-9; v += step) out.add(Math.abs(v) < step * 1e-9 ? 0 : v);
            return out;
        }
    }

    /** A round step (1, 2 or 5 times a power of ten) near {@code raw}. */
    static double niceStep(double raw) {
        if (!(raw > 0) || !Double.isFinite(raw)) return 1;
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    }

    /** A linear domain [lo, hi] around the data, extended to round ticks; a flat range is widened. */
    static double[] niceDomain(double min, double max, boolean includeZero) {
        if (!Double.isFinite(min) || !Double.isFinite(max)) return new double[] {0, 1};
        if (includeZero) {
            min = Math.min(min, 0);
            max = Math.max(max, 0);
        }
        if (max - min < 1e-12 * Math.max(1, Math.abs(max))) {
            double pad = max == 0 ? 1 : Math.abs(max) * 0.1;
            min -= pad;
            max += pad;
            if (includeZero && min < 0 && max > 0 && min > -pad * 1.5) min = Math.min(0, min);
        }
        double step = niceStep((max - min) / 5);
        return new double[] {Math.floor(min / step) * step, Math.ceil(max / step) * step};
    }

    /** Dash patterns for line series, in order; the first is solid. */
    static final String[] DASHES = {"", "8 4", "2 3", "10 3 2 3", "4 4", "1 2", "12 2 2 2 2 2"};

    /** Marker shapes for line series, in order. */
    static final String[] MARKERS = {"circle", "square", "triangle", "diamond", "cross", "plus", "star"};

    /** Stroke colours for line series: dark and far apart, but the dashes and markers carry the meaning. */
    static final String[] INKS = {"#1b1b1b", "#0b5394", "#b45f06", "#38761d", "#741b47", "#434343", "#7f6000"};

    /** The ink of line series i. */
    static String ink(int i) { return INKS[(i + 2 * (i / INKS.length)) % INKS.length]; }

    /** The dash pattern of line series i. */
    static String dash(int i) { return DASHES[i % DASHES.length]; }

    /** The marker of line series i: with the dash pattern, a different pair for each of the first 49 series. */
    static String markerShape(int i) { return MARKERS[(i + i / MARKERS.length) % MARKERS.length]; }

    /** A marker of the given shape centred at (x, y), with its class. */
    static String marker(String shape, double x, double y, String ink, String cls) {
        double r = 3.6;
        return switch (shape) {
            case "square" -> "<rect class=\"" + cls + "\" x=\"" + c(x - r) + "\" y=\"" + c(y - r) + "\" width=\"" + c(2 * r) + "\" height=\"" + c(2 * r)
                    + "\" fill=\"" + ink + "\"/>";
            case "triangle" -> "<path class=\"" + cls + "\" d=\"M" + c(x) + " " + c(y - r - 0.6) + "L" + c(x + r + 0.6) + " " + c(y + r) + "L" + c(x - r - 0.6)
                    + " " + c(y + r) + "Z\" fill=\"" + ink + "\"/>";
            case "diamond" -> "<path class=\"" + cls + "\" d=\"M" + c(x) + " " + c(y - r - 1) + "L" + c(x + r + 1) + " " + c(y) + "L" + c(x) + " "
                    + c(y + r + 1) + "L" + c(x - r - 1) + " " + c(y) + "Z\" fill=\"white\" stroke=\"" + ink + "\" stroke-width=\"1.5\"/>";
            case "cross" -> "<path class=\"" + cls + "\" d=\"M" + c(x - r) + " " + c(y - r) + "L" + c(x + r) + " " + c(y + r) + "M" + c(x - r) + " " + c(y + r)
                    + "L" + c(x + r) + " " + c(y - r) + "\" stroke=\"" + ink + "\" stroke-width=\"2\"/>";
            case "plus" -> "<path class=\"" + cls + "\" d=\"M" + c(x - r - 1) + " " + c(y) + "L" + c(x + r + 1) + " " + c(y) + "M" + c(x) + " " + c(y - r - 1)
                    + "L" + c(x) + " " + c(y + r + 1) + "\" stroke=\"" + ink + "\" stroke-width=\"2\"/>";
            case "star" -> "<circle class=\"" + cls + "\" cx=\"" + c(x) + "\" cy=\"" + c(y) + "\" r=\"" + c(r) + "\" fill=\"white\" stroke=\"" + ink
                    + "\" stroke-width=\"1.5\"/>";
            default -> "<circle class=\"" + cls + "\" cx=\"" + c(x) + "\" cy=\"" + c(y) + "\" r=\"" + c(r) + "\" fill=\"" + ink + "\"/>";
        };
    }

    /**
     * Fill patterns for bar series (solid, diagonal hatching, dots, cross-hatching, horizontal
     * lines), defined in a {@code <defs>} block with ids {@code prefix-p0}, {@code prefix-p1}, ...
     */
    static String patternDefs(String prefix) {
        return "<defs>"
                + "<pattern id=\"" + prefix + "-p1\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                + "<rect width=\"6\" height=\"6\" fill=\"white\"/><rect width=\"2.4\" height=\"6\" fill=\"#333\"/></pattern>"
                + "<pattern id=\"" + prefix + "-p2\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\">"
                + "<rect width=\"5\" height=\"5\" fill=\"#f2f2f2\"/><circle cx=\"2.5\" cy=\"2.5\" r=\"1.3\" fill=\"#222\"/></pattern>"
                + "<pattern id=\"" + prefix + "-p3\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">"
                + "<rect width=\"6\" height=\"6\" fill=\"white\"/><path d=\"M0 0L6 6M6 0L0 6\" stroke=\"#333\" stroke-width=\"1.2\"/></pattern>"
                + "<pattern id=\"" + prefix + "-p4\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\">"
                + "<rect width=\"4\" height=\"4\" fill=\"white\"/><rect width=\"4\" height=\"1.6\" fill=\"#333\"/></pattern>"
                + "</defs>";
    }

    /** The fill of bar series i: solid dark grey, then the patterns of {@link #patternDefs}. */
    static String fill(String prefix, int i) {
        int p = i % 5;
        return p == 0 ? "#3a3a3a" : "url(#" + prefix + "-p" + p + ")";
    }

    /** Names of the fills, for legends and captions. */
    static final String[] FILL_NAMES = {"solid", "hatched", "dotted", "cross-hatched", "striped"};
}
