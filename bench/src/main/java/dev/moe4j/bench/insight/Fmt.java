package dev.moe4j.bench.insight;

import java.util.Locale;

/**
 * Number formatting shared by the stage tables: short, aligned, locale-independent.
 */
public final class Fmt {
    private Fmt() {}

    /**
     * A number in at most about 9 characters: 0 as {@code 0}, magnitudes in [1e-3, 1e5) with 4
     * decimals (trailing zeros kept, so columns align), others in scientific notation; NaN and
     * infinities by name.
     */
    public static String num(double v) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "inf" : "-inf";
        if (v == 0) return "0";
        double a = Math.abs(v);
        if (a >= 1e-3 && a < 1e5) return String.format(Locale.ROOT, "%.4f", v);
        return String.format(Locale.ROOT, "%.3e", v);
    }

    /** A number with {@code decimals} decimals. */
    public static String fixed(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    /** An integer with thousands separators ({@code 1,234,567}). */
    public static String count(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }

    /** A FLOP count in engineering units: {@code 12.3 kFLOP}, {@code 4.56 MFLOP}, ... */
    public static String flops(double flops) {
        return scaled(flops, "FLOP");
    }

    /** A value with a metric prefix (k, M, G, T) and a unit. */
    public static String scaled(double v, String unit) {
        String[] prefixes = {"", "k", "M", "G", "T", "P"};
        int i = 0;
        double a = Math.abs(v);
        while (a >= 1000 && i < prefixes.length - 1) {
            a /= 1000;
            v /= 1000;
            i++;
        }
        return String.format(Locale.ROOT, i == 0 ? "%.0f %s%s" : "%.3g %s%s", v, prefixes[i], unit);
    }

    /** A duration given in nanoseconds, in milliseconds with 3 decimals. */
    public static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
    }

    /**
     * Elements {@code [from, from + n)} of {@code values} as {@code [a, b, c]}, eliding the middle
     * when there are more than {@code max} ({@code [a, b, ..., y, z]}).
     */
    public static String vector(double[] values, int from, int n, int max) {
        StringBuilder b = new StringBuilder("[");
        if (n <= max) {
            for (int i = 0; i < n; i++) b.append(i == 0 ? "" : ", ").append(num(values[from + i]));
        } else {
            int head = (max + 1) / 2, tail = max - head;
            for (int i = 0; i < head; i++) b.append(i == 0 ? "" : ", ").append(num(values[from + i]));
            b.append(", ... (").append(n - max).append(" more)");
            for (int i = n - tail; i < n; i++) b.append(", ").append(num(values[from + i]));
        }
        return b.append(']').toString();
    }

    /** {@link #vector(double[], int, int, int)} of a whole array. */
    public static String vector(double[] values, int max) {
        return vector(values, 0, values.length, max);
    }

    /** A shape as {@code [T, d]}. */
    public static String shape(int... dims) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) b.append(i == 0 ? "" : ", ").append(dims[i]);
        return b.append(']').toString();
    }

    /** The Euclidean norm of {@code values[from, from + n)}. */
    public static double norm(double[] values, int from, int n) {
        double s = 0;
        for (int i = from; i < from + n; i++) s += values[i] * values[i];
        return Math.sqrt(s);
    }

    /** A bar of {@code #} proportional to {@code value / max}, at most {@code width} characters. */
    public static String bar(double value, double max, int width) {
        if (!(max > 0) || !(value > 0)) return "";
        return "#".repeat((int) Math.round(width * Math.min(1, value / max)));
    }
}
