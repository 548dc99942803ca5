package dev.moe4j.bench;

import dev.moe4j.kernels.cpu.Gemm;
import dev.moe4j.kernels.cpu.Parallel;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * moe4j SGEMM ({@link Gemm#sgemm}) against OpenBLAS {@code cblas_sgemm} in the same run:
 * row-major {@code C[m,n] = A[m,k] * B[k,n]} on square sizes and on the skinny
 * {@code [512, 4096] x [4096, 1024]}, on 1 and 2 threads.
 *
 * <p><b>Reading the result.</b> Besides the primary score (calls per microsecond), each benchmark
 * reports the secondary counter {@code gflops}: it counts thousands of flops ({@code 2mnk / 1000}
 * per call), so its rate in ops/us is GFLOP/s.
 *
 * <pre>
 *   mvn -pl bench -am package -DskipTests
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE java --add-modules jdk.incubator.vector \
 *       -jar bench/target/benchmarks.jar SgemmBenchmark -f 1 -wi 2 -i 3 -w 1s -r 1s
 * </pre>
 * {@link GemmReport} prints the same comparison as a GFLOP/s table without JMH.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class SgemmBenchmark {
    /** {@code m x k x n}, or one number for a square problem. */
    @Param({"256", "512", "1024", "2048", "512x4096x1024"})
    public String shape;

    /** Threads for both libraries. */
    @Param({"1", "2"})
    public int threads;

    int m, n, k;
    float[] a, b, c;
    FloatPointer pa, pb, pc;

    /** Floating-point operations per call, counted in thousands (see the class comment). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        /** Thousands of flops done; its rate per microsecond is GFLOP/s. */
        public long gflops;
    }

    /** Parses {@code "m x k x n"} or {@code "s"} into {m, k, n}. */
    static int[] parseShape(String s) {
        String[] p = s.split("x");
        if (p.length == 1) {
            int v = Integer.parseInt(p[0].trim());
            return new int[] {v, v, v};
        }
        return new int[] {Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()), Integer.parseInt(p[2].trim())};
    }

    /**
     * Random operands and the thread count. Only the {@code openblas} benchmark loads OpenBLAS (its
     * fork gets native copies of the operands): the library starts worker threads when it is
     * loaded, and those poll for work and would take CPU time from moe4j's threads.
     */
    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        int[] s = parseShape(shape);
        m = s[0];
        k = s[1];
        n = s[2];
        Random r = new Random(42);
        a = new float[m * k];
        b = new float[k * n];
        c = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
        Parallel.setThreads(threads);
        if (params.getBenchmark().endsWith(".openblas")) {
            pa = new FloatPointer(a);
            pb = new FloatPointer(b);
            pc = new FloatPointer(c);
            OpenBlas.setThreads(threads);
            System.out.println();
            System.out.println("OpenBLAS core: " + OpenBlas.coreName() + ", threads: " + threads + " " + OpenBlas.coreTypeWarning());
        }
    }

    /** Frees the native copies. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (pa != null) {
            pa.close();
            pb.close();
            pc.close();
        }
    }

    private long kiloFlops() { return Math.round(Gemm.flops(m, n, k) / 1000); }

    /** moe4j: blocked, packed Vector API SGEMM. */
    @Benchmark
    public float[] moe4j(Flops flops) {
        Gemm.sgemm(m, n, k, 1f, a, 0, k, 1, b, 0, n, 1, 0f, c, 0, n);
        flops.gflops += kiloFlops();
        return c;
    }

    /** OpenBLAS cblas_sgemm, same problem. */
    @Benchmark
    public FloatPointer openblas(Flops flops) {
        OpenBlas.sgemm(m, n, k, pa, pb, pc);
        flops.gflops += kiloFlops();
        return pc;
    }
}
