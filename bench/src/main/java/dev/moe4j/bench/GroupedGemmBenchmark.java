package dev.moe4j.bench;

import dev.moe4j.kernels.cpu.Gemm;
import dev.moe4j.kernels.cpu.GroupedGemm;
import dev.moe4j.kernels.cpu.Parallel;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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
 * The expert up-projection of a MoE layer, {@code h[rows_e] = x[rows_e] * W_e} for
 * {@code rows = T*k = 4096} routed token slots, {@code E} experts, {@code d = 512 -> f = 1024},
 * three ways with the same total flops:
 * <ul>
 *   <li>{@code grouped}: one {@link GroupedGemm#forward} call over the ragged groups;</li>
 *   <li>{@code perExpertLoop}: one {@link Gemm#sgemm} per expert, one after the other;</li>
 *   <li>{@code dense}: one {@code [4096, 512] x [512, 1024]} GEMM, the ceiling a grouped GEMM
 *       approaches.</li>
 * </ul>
 * Routings: {@code uniform} (4096 / E rows each), {@code zipf} (expert e gets a share
 * proportional to 1 / (e+1), a skewed router) and {@code halfEmpty} (every other expert gets no
 * token, the rest share the rows). The weights are stored {@code [E, f, d]} ({@code NK}, as
 * nn.Linear weights) or {@code [E, d, f]} ({@code KN}).
 *
 * <p>The secondary counter {@code gflops} (thousands of flops, rate per microsecond) reads as
 * GFLOP/s, as in {@link SgemmBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GroupedGemmBenchmark {
    /** Routed rows (tokens times top-k). */
    static final int ROWS = 4096;
    /** Model width (the GEMM depth). */
    static final int D = 512;
    /** Expert hidden width (the GEMM output width). */
    static final int F = 1024;

    /** Number of experts E. */
    @Param({"8", "16"})
    public int experts;

    /** How the rows are spread over the experts (see the class comment). */
    @Param({"uniform", "zipf", "halfEmpty"})
    public String routing;

    /** Weight layout: {@code NK} ([E, f, d]) or {@code KN} ([E, d, f]). */
    @Param({"NK"})
    public String layout;

    /** Threads used by moe4j. */
    @Param({"1", "2"})
    public int threads;

    int[] offsets;
    float[] x, w, h;
    GroupedGemm.Layout lay;

    /** Routing offsets, random activations and weights, the thread count. */
    @Setup(Level.Trial)
    public void setup() {
        offsets = offsets(routing, experts, ROWS);
        lay = GroupedGemm.Layout.valueOf(layout);
        Random r = new Random(7);
        x = new float[ROWS * D];
        w = new float[experts * D * F];
        h = new float[ROWS * F];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat() - 0.5f;
        for (int i = 0; i < w.length; i++) w[i] = r.nextFloat() - 0.5f;
        Parallel.setThreads(threads);
        System.out.println();
        System.out.println("rows per expert: " + Arrays.toString(counts(offsets)) + ", threads: " + threads);
    }

    /** Offsets [E + 1] of a routing of {@code rows} slots over {@code e} experts. */
    static int[] offsets(String routing, int e, int rows) {
        double[] share = new double[e];
        for (int g = 0; g < e; g++) {
            share[g] = switch (routing) {
                case "uniform" -> 1;
                case "zipf" -> 1.0 / (g + 1);
                case "halfEmpty" -> g % 2 == 0 ? 1 : 0;
                default -> throw new IllegalArgumentException("unknown routing '" + routing + "'; use uniform, zipf or halfEmpty");
            };
        }
        double total = Arrays.stream(share).sum();
        int[] off = new int[e + 1];
        for (int g = 0; g < e; g++) off[g + 1] = off[g] + (int) Math.floor(rows * share[g] / total);
        off[e] = rows;                               // rounding leftovers go to the last group
        for (int g = e - 1; g >= 0; g--) off[g] = Math.min(off[g], off[g + 1]);
        return off;
    }

    static int[] counts(int[] off) {
        int[] c = new int[off.length - 1];
        for (int g = 0; g < c.length; g++) c[g] = off[g + 1] - off[g];
        return c;
    }

    private static final long KILO_FLOPS = Math.round(Gemm.flops(ROWS, F, D) / 1000);

    /** One grouped GEMM over all experts. */
    @Benchmark
    public float[] grouped(SgemmBenchmark.Flops flops) {
        GroupedGemm.forward(offsets, D, F, 1f, x, 0, w, 0, lay, 0f, h, 0);
        flops.gflops += KILO_FLOPS;
        return h;
    }

    /** One SGEMM per expert, in sequence (each call uses the threads on its own). */
    @Benchmark
    public float[] perExpertLoop(SgemmBenchmark.Flops flops) {
        boolean kn = lay == GroupedGemm.Layout.KN;
        for (int g = 0; g + 1 < offsets.length; g++) {
            int rows = offsets[g + 1] - offsets[g];
            Gemm.sgemm(rows, F, D, 1f, x, offsets[g] * D, D, 1, w, g * D * F, kn ? F : 1, kn ? 1 : D, 0f, h, offsets[g] * F, F);
        }
        flops.gflops += KILO_FLOPS;
        return h;
    }

    /** One dense GEMM of the same size, all rows against the first expert's weights. */
    @Benchmark
    public float[] dense(SgemmBenchmark.Flops flops) {
        boolean kn = lay == GroupedGemm.Layout.KN;
        Gemm.sgemm(ROWS, F, D, 1f, x, 0, D, 1, w, 0, kn ? F : 1, kn ? 1 : D, 0f, h, 0, F);
        flops.gflops += KILO_FLOPS;
        return h;
    }
}
