package dev.moe4j.bench;

import dev.moe4j.kernels.cpu.moe.Combine;
import dev.moe4j.kernels.cpu.moe.Permute;
import dev.moe4j.kernels.cpu.moe.RoutingPlan;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Memory bandwidth of the MoE data-movement kernels: permute (token rows into expert order), its backward
 * (unpermute-sum), combine (weighted sum back into token order) and its backward, each in GB/s beside
 * {@link System#arraycopy} of R * d floats (the same bytes as permute) measured in the same run, and beside
 * the scalar references.
 *
 * <p>Shapes ({@code shape} = "T,k,E,d"): a Mixtral-like layer (T = 4096, k = 2, E = 8, d = 1024) and a
 * fine-grained one (T = 4096, k = 8, E = 64, d = 512). Expert ids are uniform, distinct per token.
 *
 * <p>Bytes counted per call (float rows only; index arrays are small beside them), R = T * k:
 * <pre>
 *   permute          read R*d + write R*d
 *   permuteBackward  read R*d + write T*d
 *   combine          read R*d + write T*d
 *   combineBackward  read T*d + R*d (dy, yPerm) + write R*d (dyPerm)
 *   arraycopy        read R*d + write R*d
 * </pre>
 * The {@code gigabytes} counter is reported as a rate: GB/s (10^9 bytes). The fast kernels split large
 * problems over the common fork-join pool; add {@code -jvmArgsAppend -XX:ActiveProcessorCount=1} for a
 * single-thread comparison with {@code arraycopy}.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar PermuteCombineBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class PermuteCombineBenchmark {

    /** "T,k,E,d". */
    @Param({"4096,2,8,1024", "4096,8,64,512"})
    public String shape;

    private int d;
    private RoutingPlan plan;
    private float[] x, xPerm, yPerm, y, dy, weights, dWeights;
    private double permuteGB, permuteBackwardGB, combineGB, combineBackwardGB, copyGB;
    private int copyLength;

    /** Bytes moved, accumulated per iteration and reported by JMH as a rate (GB/s). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Traffic {
        /** 10^9 bytes moved. */
        public double gigabytes;

        /** Clears the counter before each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            gigabytes = 0;
        }
    }

    /** Builds a uniform routing plan and fills the activations. */
    @Setup(Level.Trial)
    public void setUp() {
        String[] p = shape.split(",");
        int T = Integer.parseInt(p[0].trim()), k = Integer.parseInt(p[1].trim());
        int E = Integer.parseInt(p[2].trim());
        d = Integer.parseInt(p[3].trim());
        Random rnd = new Random(42);
        int[] ids = new int[T * k];
        for (int t = 0; t < T; t++) {
            boolean[] used = new boolean[E];
            for (int j = 0; j < k; j++) {
                int e;
                do e = rnd.nextInt(E); while (used[e]);
                used[e] = true;
                ids[t * k + j] = e;
            }
        }
        plan = RoutingPlan.build(ids, T, k, E);
        int R = plan.numRows();
        x = random(rnd, T * d);
        xPerm = new float[R * d];
        yPerm = random(rnd, R * d);
        y = new float[T * d];
        dy = random(rnd, T * d);
        weights = random(rnd, T * k);
        dWeights = new float[T * k];
        double rd = 4.0 * R * d / 1e9, td = 4.0 * T * d / 1e9;
        permuteGB = 2 * rd;
        permuteBackwardGB = rd + td;
        combineGB = rd + td;
        combineBackwardGB = td + 2 * rd;
        copyGB = 2 * rd;
        copyLength = R * d;
    }

    private static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    /** Baseline: one bulk copy of R * d floats. */
    @Benchmark
    public float[] arraycopy(Traffic traffic) {
        System.arraycopy(yPerm, 0, xPerm, 0, copyLength);
        traffic.gigabytes += copyGB;
        return xPerm;
    }

    /** x [T, d] -> xPerm [R, d], fast. */
    @Benchmark
    public float[] permute(Traffic traffic) {
        Permute.permute(plan, x, d, xPerm);
        traffic.gigabytes += permuteGB;
        return xPerm;
    }

    /** x [T, d] -> xPerm [R, d], scalar reference. */
    @Benchmark
    public float[] permuteReference(Traffic traffic) {
        Permute.permuteReference(plan, x, d, xPerm);
        traffic.gigabytes += permuteGB;
        return xPerm;
    }

    /** dxPerm [R, d] -> dx [T, d] (sum of each token's rows), fast. */
    @Benchmark
    public float[] permuteBackward(Traffic traffic) {
        Permute.permuteBackward(plan, yPerm, d, y);
        traffic.gigabytes += permuteBackwardGB;
        return y;
    }

    /** yPerm [R, d] -> y [T, d] weighted by the gates, fast. */
    @Benchmark
    public float[] combine(Traffic traffic) {
        Combine.combine(plan, weights, yPerm, d, y);
        traffic.gigabytes += combineGB;
        return y;
    }

    /** yPerm [R, d] -> y [T, d] weighted by the gates, scalar reference. */
    @Benchmark
    public float[] combineReference(Traffic traffic) {
        Combine.combineReference(plan, weights, yPerm, d, y);
        traffic.gigabytes += combineGB;
        return y;
    }

    /** dy [T, d] -> dyPerm [R, d] and dWeights [T, k], fast. */
    @Benchmark
    public float[] combineBackward(Traffic traffic) {
        Combine.combineBackward(plan, weights, yPerm, dy, d, xPerm, dWeights);
        traffic.gigabytes += combineBackwardGB;
        return dWeights;
    }
}
