package dev.moe4j.bench;

import dev.moe4j.kernels.cpu.Gemm;
import dev.moe4j.kernels.cpu.Parallel;
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
 *       -cp bench/target/benchmarks.jar dev.moe4j.bench.GemmReport [shape ...]
 * </pre>
 * A shape is {@code m x k x n} or a single size for a square problem; the default list is 256,
 * 512, 1024, 2048 and 512x4096x1024.
 */
public final class GemmReport {
    private GemmReport() {}

    /** Prints the table; arguments are shapes (optional). */
    public static void main(String[] args) {
        List<String> shapes = new ArrayList<>(List.of(args));
        if (shapes.isEmpty()) shapes = List.of("256", "512", "1024", "2048", "512x4096x1024");
        String warning = OpenBlas.coreTypeWarning();
        if (!warning.isEmpty()) System.out.println(warning);
        System.out.println("OpenBLAS core: " + OpenBlas.coreName() + "; times are best of 5 rounds, GFLOP/s");
        System.out.printf("%-16s %7s %10s %10s %8s%n", "shape (m k n)", "threads", "moe4j", "OpenBLAS", "ratio");
        for (String s : shapes) {
            int[] mkn = SgemmBenchmark.parseShape(s);
            for (int threads : new int[] {1, 2}) {
                double[] g = measure(mkn[0], mkn[1], mkn[2], threads);
                System.out.printf("%-16s %7d %10.1f %10.1f %7.0f%%%n", s, threads, g[0], g[1], 100 * g[0] / g[1]);
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
