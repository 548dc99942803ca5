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
 * A quick GFLOP/s table of moe4j SGEMM against OpenBLAS, without JMH: for each shape and thread
 * count each library is timed in several rounds (moe4j first, then OpenBLAS, whose idle worker
 * threads spin for a while after each call) and the best round is kept.
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
        String warning = OpenBlas.coreTypeWarning();
        if (!warning.isEmpty()) System.out.println(warning);
        String header = "OpenBLAS core: " + OpenBlas.coreName() + "; times are best of 5 rounds, GFLOP/s";
        System.out.println(header);
        System.out.printf("%-16s %7s %10s %10s %8s%n", "shape (m k n)", "threads", "moe4j", "OpenBLAS", "ratio");
        int[] threadCounts = {1, 2};
        ProgressBar bar = new ProgressBar("GEMM", (long) shapes.size() * threadCounts.length, 0, System.out, ProgressBar.isTerminal(), 10, System::nanoTime);
        BenchmarkReport html = new BenchmarkReport("moe4j SGEMM beside OpenBLAS", "throughput", "GFLOP/s", "moe4j", "OpenBLAS");
        int done = 0;
        for (String s : shapes) {
            int[] mkn = SgemmBenchmark.parseShape(s);
            for (int threads : threadCounts) {
                bar.update(done, Double.NaN, Double.NaN, "measuring " + s + ", " + threads + " thread(s)");
                double[] g = measure(mkn[0], mkn[1], mkn[2], threads);
                bar.println(String.format("%-16s %7d %10.1f %10.1f %7.0f%%", s, threads, g[0], g[1], 100 * g[0] / g[1]));
                html.add(s + ", " + threads + (threads == 1 ? " thread" : " threads"), g[0], g[1]);
                done++;
            }
        }
        bar.finish(done, Double.NaN, Double.NaN, "done");
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

    /** Best GFLOP/s of moe4j and of OpenBLAS on {@code [m,k] x [k,n]}. */
    static double[] measure(int m, int k, int n, int threads) {
        Parallel.setThreads(threads);
        OpenBlas.setThreads(threads);
        Random r = new Random(1);
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
        double flops = Gemm.flops(m, n, k);
        int reps = (int) Math.max(2, 4e9 / flops);       // ~20-40 ms per timing
        double best0 = 0, best1 = 0;
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b); FloatPointer pc = new FloatPointer(c)) {
            // OpenBLAS worker threads keep spinning for a while after a call and would steal the
            // second core from moe4j, so each library gets its own phase and OpenBLAS goes last,
            // followed by a pause before the next measurement.
            for (int round = 0; round < 7; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) Gemm.sgemm(m, n, k, 1f, a, 0, k, 1, b, 0, n, 1, 0f, c, 0, n);
                long t1 = System.nanoTime();
                if (round >= 2) best0 = Math.max(best0, flops * reps / (t1 - t0));    // the first rounds warm up the JIT
            }
            for (int round = 0; round < 7; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) OpenBlas.sgemm(m, n, k, pa, pb, pc);
                long t1 = System.nanoTime();
                if (round >= 2) best1 = Math.max(best1, flops * reps / (t1 - t0));
            }
        }
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return new double[] {best0, best1};
    }
}
