package dev.moe4j.bench.report;

import dev.moe4j.bench.insight.Fmt;

import java.util.ArrayList;
import java.util.List;

/**
 * The HTML report of a GPU MoE benchmark run ({@link GpuMoeResults}): per shape, bar charts of the
 * moe4j kernels beside their baselines measured in the same run (cuBLAS bf16 dense at the same FLOPs
 * for the GEMMs, the device-to-device copy for the row movements) and beside the static reference
 * figures (PyTorch on an H100, labelled as measured elsewhere); then a table of every figure with the
 * ratios. Self-contained: built on {@link HtmlReport} and {@link BarChart}.
 */
public final class GpuMoeReport {
    private GpuMoeReport() {}

    /** Series name of the reference figures. */
    static final String REFERENCE = "H100 PyTorch (static reference, not this run)";

    /**
     * The report.
     *
     * @throws IllegalArgumentException when the results hold no entry
     */
    public static HtmlReport html(GpuMoeResults results) {
        if (results.entries().isEmpty()) throw new IllegalArgumentException("a GPU benchmark report needs at least one measurement");
        HtmlReport r = new HtmlReport("moe4j MoE kernels on the GPU");
        r.paragraph("Device of this run: " + results.device() + ". " + results.method());
        r.paragraph("Reference figures: " + results.referenceNote()
                + " They were measured on another machine and are shown as a static comparison; the baselines named"
                + " \"this run\" were measured here, in the same run as the moe4j kernels.");
        List<String> shapes = results.shapes();
        for (int s = 0; s < shapes.size(); s++) {
            String shape = shapes.get(s);
            r.section("Shape (T, k, E, d -> f) = " + shape);
            chart(r, results, shape, "s" + s + "-tflops", GpuMoeResults.TFLOPS, "GEMM throughput");
            chart(r, results, shape, "s" + s + "-gbs", GpuMoeResults.GBS, "row movement bandwidth");
            chart(r, results, shape, "s" + s + "-ms", GpuMoeResults.MS, "kernel time");
        }
        r.section("All figures");
        List<List<String>> rows = new ArrayList<>();
        for (GpuMoeResults.Entry e : results.entries()) {
            rows.add(List.of(e.shape(), e.kernel(), Fmt.fixed(e.ms(), 4), rate(e.value(), e.unit()),
                    Double.isFinite(e.baseline()) ? rate(e.baseline(), e.unit()) : "n/a", ratio(e, e.baseline()),
                    Double.isFinite(e.reference()) ? rate(e.reference(), e.unit()) : "n/a", ratio(e, e.reference())));
        }
        r.table(List.of("shape (T, k, E, d -> f)", "kernel", "ms", "rate", "baseline (this run)", "vs baseline", "H100 reference", "vs reference"),
                rows, "Medians of the timed launches. \"vs\" columns: speed relative to the other figure (100% = as fast; above is faster).");
        return r;
    }

    /** One bar chart of the shape's entries in {@code unit}, or nothing when there are none. */
    private static void chart(HtmlReport r, GpuMoeResults results, String shape, String id, String unit, String what) {
        List<GpuMoeResults.Entry> es = results.measured(shape, unit);
        if (es.isEmpty()) return;
        List<String> names = new ArrayList<>();
        double[] v = new double[es.size()], base = new double[es.size()], ref = new double[es.size()];
        String baseName = "";
        boolean anyBase = false, anyRef = false;
        for (int i = 0; i < es.size(); i++) {
            GpuMoeResults.Entry e = es.get(i);
            names.add(e.kernel());
            v[i] = e.value();
            base[i] = e.baseline();
            ref[i] = e.reference();
            if (Double.isFinite(e.baseline())) {
                anyBase = true;
                if (baseName.isEmpty()) baseName = e.baselineName();
            }
            anyRef |= Double.isFinite(e.reference());
        }
        String quantity = unit.equals(GpuMoeResults.MS) ? "time" : unit.equals(GpuMoeResults.TFLOPS) ? "throughput" : "bandwidth";
        BarChart c = new BarChart(id, shape + ": " + what, names).axis(quantity, unit).series("moe4j", v);
        if (anyBase) c.series(baseName + " (this run)", base);
        if (anyRef) c.series(REFERENCE, ref);
        String better = unit.equals(GpuMoeResults.MS) ? "lower is better" : "higher is better";
        r.chart(c, "Solid: moe4j" + (anyBase ? "; hatched: " + baseName + ", measured in the same run" : "")
                + (anyRef ? "; " + (anyBase ? "dotted" : "hatched") + ": the H100 reference, measured elsewhere" : "") + "; " + better + ".");
    }

    private static String rate(double v, String unit) {
        if (!Double.isFinite(v)) return "n/a";
        int decimals = unit.equals(GpuMoeResults.MS) ? 4 : 1;
        return Fmt.fixed(v, decimals) + (unit.isEmpty() ? "" : " " + unit);
    }

    /** Speed of the entry relative to {@code other} (for times: other / value, else value / other). */
    private static String ratio(GpuMoeResults.Entry e, double other) {
        if (!Double.isFinite(other) || !Double.isFinite(e.value()) || other <= 0 || e.value() <= 0) return "n/a";
        double x = e.lowerIsBetter() ? other / e.value() : e.value() / other;
        return Fmt.fixed(100 * x, 0) + "%";
    }
}
