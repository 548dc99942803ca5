package dev.moe4j.bench;

import dev.moe4j.bench.report.GpuMoeReport;
import dev.moe4j.bench.report.GpuMoeResults;
import dev.moe4j.bench.report.HtmlReport;
import dev.moe4j.kernels.cpu.GroupedGemm.Layout;
import dev.moe4j.kernels.cpu.HalfFloat;
import dev.moe4j.kernels.cpu.moe.GatingConfig;
import dev.moe4j.kernels.cuda.CudaDType;
import dev.moe4j.kernels.cuda.CudaDevice;
import dev.moe4j.kernels.cuda.CudaGating;
import dev.moe4j.kernels.cuda.CudaGroupedGemm;
import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.CudaRouting;
import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.kernels.cuda.DeviceRoutingPlan;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.kernels.cuda.KernelVersion;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Times the MoE kernels of {@code cuda-src} on a GPU for the three MoE shapes of the project's GPU notes,
 * in bf16, and prints TFLOP/s and GB/s beside the reference figures measured there with PyTorch on an
 * H100 (and beside cuBLAS and a device-to-device copy measured in the same run).
 *
 * <p>Method: CUDA events around each launch, warm-up launches first, the median of the timed repeats.
 * Inputs smaller than twice the L2 cache are rotated over enough copies that each launch reads from
 * device memory, not the cache. Data is random (never zeros). Routing comes from a skewed random
 * router: logits N(0, 1) plus a per-expert offset falling from 1.5 to 0 over the experts.
 *
 * <pre>
 *   shape (T, k, E, d -> f): x [T, d], xPerm [R = T*k, d], expert weights W [E, f, d] (nn.Linear layout)
 *   grouped GEMM forward  h = xPerm W_e^T        2 R d f flops   (v3; and v4 on a Hopper GPU)
 *   dX = dH W_e                                  2 R d f flops   (v3; and v4 on a Hopper GPU)
 *   dW_e = dH_e^T xPerm_e                        2 R d f flops   (v3; and v4 on a Hopper GPU)
 *   permute               R rows of d read and written          4 R d bytes
 *   combine               k rows in, one row out per token      2 T (k + 1) d bytes
 *   gating                softmax + top-k of logits [T, E]      milliseconds
 * </pre>
 *
 * Gating is timed per launcher call, v2 and v3 side by side, after {@value #GATING_WARMUP} untimed
 * calls so that the host code that enqueues it runs compiled (the CUDA events enclose the host's
 * enqueueing as well as the kernels: for a kernel of a few microseconds the host side is most of it).
 *
 * <p>Usage: {@code GpuMoeBenchmark [--shape 0|1|2] [--reps N] [--report PATH]}. With {@code --report}
 * the figures are also written as a self-contained HTML report (bars beside the baselines of the run
 * and the H100 reference figures; see {@link GpuMoeReport}); the path is checked before measuring.
 * Exits with status 2 and the reason when no GPU or no kernels are available.
 */
public final class GpuMoeBenchmark {
    private GpuMoeBenchmark() {}

    /** An MoE shape and the reference figures for it (H100, PyTorch 2.11, bf16). */
    record Shape(int tokens, int topK, int experts, int d, int f, double refGroupedTflops, double refLoopTflops,
                 double refPermuteGbs, double refGatingMs, double refDxTflops, double refDwTflops, double refCombineGbs) {
        @Override public String toString() { return tokens + ", " + topK + ", " + experts + ", " + d + " -> " + f; }
    }

    static final Shape[] SHAPES = {
            new Shape(8192, 2, 8, 4096, 14336, 715, 745, 2402, 0.043, 735, 641, 438),
            new Shape(4096, 8, 64, 7168, 2048, 592, 409, 3416, 0.043, 573, 483, 433),
            new Shape(2048, 8, 128, 2048, 768, 203, 14, 2064, 0.056, 189, 185, 387)};

    /** Device-to-device copy on the H100 of the notes (read + write). */
    static final double REF_COPY_GBS = 2984;

    record Row(String shape, String kernel, double ms, String rate, String reference) {}

    /** Untimed gating calls before the timed ones: enough for the JIT to compile the launcher path. */
    static final int GATING_WARMUP = 2000;

    /** Where the reference figures of {@link #SHAPES} and {@link #REF_COPY_GBS} come from. */
    static final String REFERENCE_NOTE = "NVIDIA H100 80GB HBM3 (driver 580, CUDA 13.0), PyTorch 2.11, median of CUDA-event timings:"
            + " device-to-device copy, torch._grouped_mm, the gather permute, PyTorch eager's combine, and softmax + torch.topk for gating.";

    /** Runs the benchmark; see the class comment. */
    public static void main(String[] args) {
        int only = -1, reps = 20;
        Path report = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--shape" -> only = Integer.parseInt(args[++i]);
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--report" -> {
                    if (i + 1 >= args.length) {
                        System.err.println("GpuMoeBenchmark: --report needs a file name");
                        System.exit(1);
                    }
                    report = Path.of(args[++i]);
                }
                default -> {
                    System.err.println("usage: GpuMoeBenchmark [--shape 0|1|2] [--reps N] [--report PATH]");
                    System.exit(1);
                }
            }
        }
        if (report != null) {
            try {
                HtmlReport.requireWritable(report);
            } catch (IllegalArgumentException e) {
                System.err.println("GpuMoeBenchmark: " + e.getMessage());
                System.exit(1);
            }
        }
        if (!CudaProbe.available()) {
            System.err.println("GpuMoeBenchmark needs a CUDA GPU: " + CudaProbe.reason());
            System.exit(2);
        }
        if (!KernelBuild.available()) {
            System.err.println("GpuMoeBenchmark needs the CUDA kernels: " + KernelBuild.reason());
            System.exit(2);
        }
        CudaDevice dev = CudaDevice.get(0);
        System.out.println("device: " + dev.info());
        List<Row> rows = new ArrayList<>();
        rows.add(copyBaseline(dev, reps));
        for (int s = 0; s < SHAPES.length; s++) {
            if (only >= 0 && s != only) continue;
            rows.addAll(run(dev, SHAPES[s], reps));
            dev.allocator().emptyCache();
        }
        System.out.println();
        System.out.printf("%-26s %-34s %10s %16s %s%n", "shape (T, k, E, d -> f)", "kernel", "ms", "rate", "reference (H100, PyTorch)");
        for (Row r : rows) System.out.printf("%-26s %-34s %10.4f %16s %s%n", r.shape, r.kernel, r.ms, r.rate, r.reference);
        if (report != null) {
            String method = "CUDA events around each launcher call, warm-up calls first (" + GATING_WARMUP + " for gating), median of "
                    + reps + " timed calls (at least 50 for gating); inputs smaller than twice the L2 cache rotated over copies.";
            try {
                GpuMoeReport.html(results(dev.info().toString(), method, rows)).write(report);
                System.out.println("report written to " + report.toAbsolutePath());
            } catch (IOException e) {
                System.err.println("could not write the report to " + report.toAbsolutePath() + ": " + e.getMessage());
                System.exit(1);
            }
        }
    }

    // ------------------------------------------------------------------ report

    private static final Pattern FIGURE =
            Pattern.compile("^\\s*([0-9]+(?:[.,][0-9]+)?)\\s*(TFLOP/s|GB/s|ms)\\b");

    /** The number and unit a rate or reference text starts with ("715.0 TFLOP/s (...)"), or null. */
    static String[] figure(String text) {
        Matcher m = FIGURE.matcher(text);
        return m.find() ? new String[] {m.group(1).replace(',', '.'), m.group(2)} : null;
    }

    /**
     * The run's rows as report entries: the unit and value from each row's rate text, the reference from
     * the number its reference text starts with (when in the same unit), and the baseline of the run: the
     * cuBLAS row of the same shape for TFLOP/s rows, the copy row for GB/s rows.
     */
    static GpuMoeResults results(String device, String method, List<Row> rows) {
        double copy = Double.NaN;
        Map<String, Double> cublas = new HashMap<>();
        for (Row r : rows) {
            String[] f = figure(r.rate);
            if (f == null) continue;
            if (isCopy(r) && f[1].equals(GpuMoeResults.GBS)) copy = Double.parseDouble(f[0]);
            if (isCublas(r) && f[1].equals(GpuMoeResults.TFLOPS)) cublas.put(r.shape, Double.parseDouble(f[0]));
        }
        List<GpuMoeResults.Entry> entries = new ArrayList<>();
        for (Row r : rows) {
            String[] f = figure(r.rate), ref = figure(r.reference);
            String unit = f == null ? "" : f[1];
            double value = f == null ? Double.NaN : Double.parseDouble(f[0]);
            double reference = ref != null && ref[1].equals(unit) ? Double.parseDouble(ref[0]) : Double.NaN;
            boolean isBase = isCopy(r) || isCublas(r);
            double base = Double.NaN;
            String baseName = "";
            if (!isBase && unit.equals(GpuMoeResults.TFLOPS) && cublas.containsKey(r.shape)) {
                base = cublas.get(r.shape);
                baseName = "cuBLAS bf16 dense, same FLOPs";
            } else if (!isBase && unit.equals(GpuMoeResults.GBS) && Double.isFinite(copy)) {
                base = copy;
                baseName = "device-to-device copy";
            }
            entries.add(new GpuMoeResults.Entry(r.shape, r.kernel, r.ms, unit, value, base, baseName, reference, isBase));
        }
        return new GpuMoeResults(device, REFERENCE_NOTE, method, entries);
    }

    private static boolean isCopy(Row r) { return r.shape.equals("-") && r.kernel.startsWith("device-to-device copy"); }

    private static boolean isCublas(Row r) { return r.kernel.startsWith("cuBLAS"); }

    // ------------------------------------------------------------------ timing

    /** Median device time in ms of {@code reps} launches of {@code work(i)} after {@code warmup} untimed ones. */
    static double median(CudaDevice dev, int warmup, int reps, IntConsumer work) {
        for (int i = 0; i < warmup; i++) work.accept(i);
        dev.synchronize();
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            int at = warmup + i;
            t[i] = dev.time(() -> work.accept(at));
        }
        Arrays.sort(t);
        return reps % 2 == 1 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    }

    /** How many copies of a {@code bytes}-byte input make the rotation at least twice the L2 cache (1 when it is already). */
    static int rotation(CudaDevice dev, long bytes) {
        long l2 = Math.max(dev.info().l2Bytes(), 1);
        return (int) Math.min(64, Math.max(1, (2 * l2 + bytes - 1) / Math.max(bytes, 1)));
    }

    static String tflops(double flops, double ms) { return String.format("%.1f TFLOP/s", flops / (ms * 1e-3) / 1e12); }

    static String gbs(double bytes, double ms) { return String.format("%.0f GB/s", bytes / (ms * 1e-3) / 1e9); }

    static String pct(double got, double ref) { return String.format("%.0f%%", 100 * got / ref); }

    // ------------------------------------------------------------------ data

    static DeviceBuffer randomBf16(CudaDevice dev, long n, double scale, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        DeviceBuffer b = dev.allocate(2 * n);
        int chunk = 1 << 22;
        short[] host = new short[(int) Math.min(n, chunk)];
        for (long at = 0; at < n; at += chunk) {
            int m = (int) Math.min(chunk, n - at);
            for (int i = 0; i < m; i++) host[i] = HalfFloat.floatToBf16((float) ((rnd.nextDouble() * 2 - 1) * scale));
            b.write(host, 0, m, 2 * at);
        }
        return b;
    }

    static DeviceBuffer skewedLogits(CudaDevice dev, int tokens, int experts, long seed) {
        Random rnd = new Random(seed);
        float[] l = new float[tokens * experts];
        for (int t = 0; t < tokens; t++) {
            for (int e = 0; e < experts; e++) l[t * experts + e] = (float) (rnd.nextGaussian() + 1.5 * (1 - e / (double) experts));
        }
        DeviceBuffer b = dev.allocate(4L * l.length);
        b.write(l);
        return b;
    }

    // ------------------------------------------------------------------ the runs

    static Row copyBaseline(CudaDevice dev, int reps) {
        long bytes = 1L << 30;
        try (DeviceBuffer a = dev.allocate(bytes); DeviceBuffer b = dev.allocate(bytes)) {
            a.zero();
            double ms = median(dev, 3, reps, i -> b.copyFrom(a, 0, 0, bytes));
            double rate = 2.0 * bytes / (ms * 1e-3) / 1e9;
            return new Row("-", "device-to-device copy (1 GiB)", ms, String.format("%.0f GB/s", rate), REF_COPY_GBS + " GB/s: " + pct(rate, REF_COPY_GBS));
        }
    }

    static List<Row> run(CudaDevice dev, Shape s, int reps) {
        List<Row> rows = new ArrayList<>();
        String name = s.toString();
        int T = s.tokens, k = s.topK, E = s.experts, d = s.d, f = s.f;
        System.out.println("shape " + name + " ...");
        GatingConfig config = GatingConfig.softmaxTopK(k, true).withRejectNaN(false);

        // gating: logits rotated past the L2
        int gSets = rotation(dev, 4L * T * E);
        List<DeviceBuffer> logits = new ArrayList<>();
        for (int i = 0; i < gSets; i++) logits.add(skewedLogits(dev, T, E, 100 + i));
        try (DeviceBuffer w = dev.allocate(4L * T * k); DeviceBuffer ids = dev.allocate(4L * T * k); DeviceBuffer counts = dev.allocate(4L * E)) {
            double ms = median(dev, GATING_WARMUP, Math.max(reps, 50),
                    i -> CudaGating.forward(config, logits.get(i % gSets), T, E, null, null, w, ids, counts, KernelVersion.V2));
            rows.add(new Row(name, "gating softmax+top-" + k + " (v2)", ms, String.format("%.4f ms", ms),
                    s.refGatingMs + " ms: " + pct(s.refGatingMs, ms) + " of its speed"));
            // v3: one launch, histogram included, nothing else enqueued
            double ms3 = median(dev, GATING_WARMUP, Math.max(reps, 50),
                    i -> CudaGating.forward(config, logits.get(i % gSets), T, E, null, null, w, ids, counts, KernelVersion.V3));
            rows.add(new Row(name, "gating softmax+top-" + k + " (v3)", ms3, String.format("%.4f ms", ms3),
                    s.refGatingMs + " ms: " + pct(s.refGatingMs, ms3) + " of its speed"));

            try (DeviceRoutingPlan plan = CudaRouting.plan(ids, T, k, E, -1)) {
                int R = plan.numRows();
                rows.addAll(rowMovement(dev, s, plan, w, reps));
                rows.addAll(gemms(dev, s, plan, R, reps));
            }
        } finally {
            logits.forEach(DeviceBuffer::close);
        }
        return rows;
    }

    static List<Row> rowMovement(CudaDevice dev, Shape s, DeviceRoutingPlan plan, DeviceBuffer gateWeights, int reps) {
        List<Row> rows = new ArrayList<>();
        String name = s.toString();
        int T = s.tokens, d = s.d, R = plan.numRows();
        int sets = rotation(dev, 2L * T * d);
        List<DeviceBuffer> xs = new ArrayList<>();
        for (int i = 0; i < sets; i++) xs.add(randomBf16(dev, (long) T * d, 1, 200 + i));
        try (DeviceBuffer xPerm = dev.allocate(2L * R * d); DeviceBuffer y = dev.allocate(2L * T * d)) {
            double ms = median(dev, 5, reps, i -> CudaRouting.permute(plan, CudaDType.BF16, xs.get(i % sets), d, xPerm));
            double bytes = 4.0 * R * d;
            double rate = bytes / (ms * 1e-3) / 1e9;
            rows.add(new Row(name, "permute bf16 (gather, v2)", ms, gbs(bytes, ms),
                    s.refPermuteGbs + " GB/s: " + pct(rate, s.refPermuteGbs) + "; copy " + REF_COPY_GBS + ": " + pct(rate, REF_COPY_GBS)));
            ms = median(dev, 5, reps, i -> CudaRouting.combine(plan, CudaDType.BF16, gateWeights, xPerm, d, y));
            bytes = 2.0 * T * (s.topK + 1) * d;
            rate = bytes / (ms * 1e-3) / 1e9;
            rows.add(new Row(name, "combine bf16 (v2)", ms, gbs(bytes, ms), s.refCombineGbs + " GB/s: " + pct(rate, s.refCombineGbs)));
        } finally {
            xs.forEach(DeviceBuffer::close);
        }
        return rows;
    }

    static List<Row> gemms(CudaDevice dev, Shape s, DeviceRoutingPlan plan, int R, int reps) {
        List<Row> rows = new ArrayList<>();
        String name = s.toString();
        int E = s.experts, d = s.d, f = s.f;
        double flops = 2.0 * R * d * f;
        try (DeviceBuffer x = randomBf16(dev, (long) R * d, 1, 300); DeviceBuffer w = randomBf16(dev, (long) E * f * d, 0.02, 301);
             DeviceBuffer h = dev.allocate(2L * R * f); DeviceBuffer dh = randomBf16(dev, (long) R * f, 1, 302);
             DeviceBuffer dx = dev.allocate(2L * R * d); DeviceBuffer dw = dev.allocate(2L * E * f * d)) {
            DeviceBuffer off = plan.offsets();
            int gemmReps = Math.max(5, reps / 2);
            double ms = median(dev, 3, gemmReps, i -> CudaGroupedGemm.forward(CudaDType.BF16, off, E, R, d, f, 1f, x, w, Layout.NK, 0f, h, KernelVersion.V3));
            rows.add(new Row(name, "grouped GEMM fwd bf16 (v3 mma.sync)", ms, tflops(flops, ms), ref(flops, ms, s.refGroupedTflops, "torch._grouped_mm")));
            // v4 (wgmma + TMA) is sm_90a machine code; -Dmoe4j.cuda.gg.v4=false leaves it out
            boolean hopper = dev.info().major() == 9 && !"false".equalsIgnoreCase(System.getProperty("moe4j.cuda.gg.v4"));
            if (hopper) {
                ms = median(dev, 3, gemmReps, i -> CudaGroupedGemm.forward(CudaDType.BF16, off, E, R, d, f, 1f, x, w, Layout.NK, 0f, h, KernelVersion.V4));
                rows.add(new Row(name, "grouped GEMM fwd bf16 (v4 wgmma+TMA)", ms, tflops(flops, ms), ref(flops, ms, s.refGroupedTflops, "torch._grouped_mm")));
            }
            ms = median(dev, 3, gemmReps, i -> CudaGroupedGemm.backwardInput(CudaDType.BF16, off, E, R, d, f, 1f, dh, w, Layout.NK, 0f, dx, KernelVersion.V3));
            rows.add(new Row(name, "grouped GEMM dX bf16 (v3)", ms, tflops(flops, ms), ref(flops, ms, s.refDxTflops, "torch._grouped_mm")));
            if (hopper) {
                ms = median(dev, 3, gemmReps, i -> CudaGroupedGemm.backwardInput(CudaDType.BF16, off, E, R, d, f, 1f, dh, w, Layout.NK, 0f, dx, KernelVersion.V4));
                rows.add(new Row(name, "grouped GEMM dX bf16 (v4)", ms, tflops(flops, ms), ref(flops, ms, s.refDxTflops, "torch._grouped_mm")));
            }
            ms = median(dev, 3, gemmReps, i -> CudaGroupedGemm.backwardWeight(CudaDType.BF16, off, E, R, d, f, 1f, x, dh, 0f, dw, Layout.NK, KernelVersion.V3));
            rows.add(new Row(name, "grouped GEMM dW bf16 (v3)", ms, tflops(flops, ms), ref(flops, ms, s.refDwTflops, "torch._grouped_mm")));
            if (hopper) {
                ms = median(dev, 3, gemmReps, i -> CudaGroupedGemm.backwardWeight(CudaDType.BF16, off, E, R, d, f, 1f, x, dh, 0f, dw, Layout.NK, KernelVersion.V4));
                rows.add(new Row(name, "grouped GEMM dW bf16 (v4)", ms, tflops(flops, ms), ref(flops, ms, s.refDwTflops, "torch._grouped_mm")));
            }
            // cuBLAS on the same flops as one dense product: the ceiling a grouped kernel is measured against
            ms = median(dev, 3, gemmReps, i -> dev.blas().gemm(CudaDType.BF16, false, true, R, f, d, 1f, x, d, w, d, 0f, h, f));
            rows.add(new Row(name, "cuBLAS dense bf16 [R,d]x[d,f]", ms, tflops(flops, ms), "same flops as one GEMM (baseline of this run)"));
        }
        return rows;
    }

    static String ref(double flops, double ms, double refTflops, String what) {
        double t = flops / (ms * 1e-3) / 1e12;
        return refTflops + " TFLOP/s (" + what + "): " + pct(t, refTflops);
    }
}
