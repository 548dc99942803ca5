package dev.moe4j.bench;

import dev.moe4j.bench.report.BenchmarkReport;
import dev.moe4j.bench.report.HtmlReport;
import dev.moe4j.kernels.cpu.Gemm;
import dev.moe4j.kernels.cpu.Parallel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A quick GFLOP/s table of moe4j SGEMM against OpenBLAS, without JMH: each shape and thread count
 * is timed in several rounds and the best round is kept.
 *
 * <p>All moe4j timings are taken before OpenBLAS is first called: once its worker threads exist
 * they keep polling for work long after a call returns and take CPU time away from moe4j's
 * threads, which on a 2-core machine halves a 2-thread moe4j run measured after them.
 *
 * <pre>
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE java --add-modules jdk.incubator.vector \
 *       -cp bench/target/benchmarks.jar dev.moe4j.bench.GemmReport [shape ...] [--report gemm-report.html]
 * </pre>
 * A shape is {@code m x k x n} or a single size for a square problem; the default list is 256,
 * 512, 1024, 2048 and 512x4096x1024. With {@code --report path} the table is also written as an
 * HTML report with GFLOP/s bars beside OpenBLAS's (the path is checked before measuring). A
 * progress line shows the measurement under way.
 */
public final class GemmReport {
    private GemmReport() {}

    private static final int[] THREADS = {1, 2};
    private static final int ROUNDS = 7, WARMUP_ROUNDS = 2;

    /** Prints the table; arguments are shapes (optional) and {@code --report path}. Exits with 2 on bad arguments. */
    public static void main(String[] args) {
        List<String> shapes = new ArrayList<>();
        Path report = null;
        try {
            for (int i = 0; i < args.length; i++) {
                if (args[i].equals("--report")) {
                    if (i + 1 >= args.length) throw new IllegalArgumentException("--report needs a file name");
                    report = Path.of(args[++i]);
                } else {
                    if (!args[i].matches("[0-9]+(x[0-9]+x[0-9]+)?")) {
                        throw new IllegalArgumentException("a shape is 'm x k x n' (e.g. 512x4096x1024) or one size, got '" + args[i] + "'");
                    }
                    shapes.add(args[i]);
                }
            }
            if (report != null) HtmlReport.requireWritable(report);
        } catch (IllegalArgumentException e) {
            System.err.println("GemmReport: " + e.getMessage() + "\nusage: GemmReport [m x k x n | size ...] [--report path.html]");
            System.exit(2);
            return;
        }
        if (shapes.isEmpty()) shapes = List.of("256", "512", "1024", "2048", "512x4096x1024");
        double[][] ours = new double[shapes.size()][THREADS.length], theirs = new double[shapes.size()][THREADS.length];
        ProgressBar bar = new ProgressBar("GEMM", 2L * shapes.size() * THREADS.length, 0, System.out, ProgressBar.isTerminal(), 10, System::nanoTime);
        int done = 0;
        for (boolean openBlas : new boolean[] {false, true}) {          // every moe4j timing before OpenBLAS's first call
            for (int s = 0; s < shapes.size(); s++) {
                for (int t = 0; t < THREADS.length; t++) {
                    bar.update(done, Double.NaN, Double.NaN, "measuring " + (openBlas ? "OpenBLAS " : "moe4j ") + shapes.get(s) + ", " + THREADS[t] + " thread(s)");
                    double g = measure(shapes.get(s), THREADS[t], openBlas);
                    if (openBlas) theirs[s][t] = g; else ours[s][t] = g;
                    done++;
                }
            }
        }
        bar.finish(done, Double.NaN, Double.NaN, "done");
        String warning = OpenBlas.coreTypeWarning();
        if (!warning.isEmpty()) System.out.println(warning);
        String header = "OpenBLAS core: " + OpenBlas.coreName() + "; best of " + (ROUNDS - WARMUP_ROUNDS) + " rounds, GFLOP/s";
        System.out.println(header);
        System.out.printf("%-16s %7s %10s %10s %8s%n", "shape (m k n)", "threads", "moe4j", "OpenBLAS", "ratio");
        BenchmarkReport html = new BenchmarkReport("moe4j SGEMM beside OpenBLAS", "throughput", "GFLOP/s", "moe4j", "OpenBLAS");
        for (int s = 0; s < shapes.size(); s++) {
            for (int t = 0; t < THREADS.length; t++) {
                System.out.printf("%-16s %7d %10.1f %10.1f %7.0f%%%n", shapes.get(s), THREADS[t], ours[s][t], theirs[s][t],
                        100 * ours[s][t] / theirs[s][t]);
                html.add(shapes.get(s) + ", " + THREADS[t] + (THREADS[t] == 1 ? " thread" : " threads"), ours[s][t], theirs[s][t]);
            }
        }
        if (report != null) {
            html.note(header + ". Machine: " + Runtime.getRuntime().availableProcessors() + " cores, Java " + System.getProperty("java.version")
                    + "; shapes are m x k x n of C[m, n] = A[m, k] B[k, n].");
            try {
                html.html().write(report);
                System.out.println("report written to " + report.toAbsolutePath());
            } catch (IOException e) {
                System.err.println("could not write the report to " + report.toAbsolutePath() + ": " + e.getMessage());
                System.exit(1);
            }
        }
    }

    /** Best GFLOP/s of moe4j (or OpenBLAS) on the shape with {@code threads} threads. */
    static double measure(String shape, int threads, boolean openBlas) {
        int[] mkn = SgemmBenchmark.parseShape(shape);
        int m = mkn[0], k = mkn[1], n = mkn[2];
        Random r = new Random(1);
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
        double flops = Gemm.flops(m, n, k);
        int reps = (int) Math.max(2, 1e10 / flops);      // ~50-100 ms per round
        double best = 0;
        if (openBlas) {
            OpenBlas.setThreads(threads);
            try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b); FloatPointer pc = new FloatPointer(c)) {
                for (int round = 0; round < ROUNDS; round++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < reps; i++) OpenBlas.sgemm(m, n, k, pa, pb, pc);
                    long t1 = System.nanoTime();
                    if (round >= WARMUP_ROUNDS) best = Math.max(best, flops * reps / (t1 - t0));
                }
            }
        } else {
            Parallel.setThreads(threads);
            for (int round = 0; round < ROUNDS; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) Gemm.sgemm(m, n, k, 1f, a, 0, k, 1, b, 0, n, 1, 0f, c, 0, n);
                long t1 = System.nanoTime();
                if (round >= WARMUP_ROUNDS) best = Math.max(best, flops * reps / (t1 - t0));    // the first rounds warm up the JIT
            }
        }
        return best;
    }
}
