package dev.moe4j.bench;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.F;
import dev.moe4j.kernels.cpu.Gemm;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A whole MoE layer, forward and forward + backward, beside dense GEMMs of the same FLOP count.
 *
 * <p>Two shapes scaled down to a CPU (T tokens, E experts, top-k, d -> f per expert, SwiGLU experts
 * so each routed (token, slot) pair costs {@code 6 d f} flops forward: {@code 2 d 2f} for the fused
 * gate/up projection and {@code 2 f d} for the down projection):
 * <ul>
 *   <li>{@code mixtral}: T = 512, E = 8, k = 2, d = 512, f = 1792 (Mixtral's f/d = 3.5);</li>
 *   <li>{@code deepseek}: fine-grained, T = 512, E = 64, k = 8, d = 512, f = 128, plus one shared
 *       expert of width 128 (DeepSeek-V3 routing: sigmoid scores, 8 groups, 4 kept, f/d about 0.25).</li>
 * </ul>
 * The dense baseline is one GEMM {@code [T k, d] x [d, 3f]} (the layer's forward flops without the
 * router and shared expert); forward + backward costs three of those.
 *
 * <p>{@link #main} prints tokens/s and GFLOP/s of the layer beside the dense GEMM's GFLOP/s without
 * JMH: {@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.MoeLayerBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MoeLayerBenchmark {

    /** Shape name: {@code mixtral} or {@code deepseek}. */
    @Param({"mixtral", "deepseek"})
    public String shape;

    private Setting s;

    /** One benchmark configuration. */
    record Setting(String name, int tokens, int experts, int k, int d, int f, int sharedF, RouterKind router,
                   int nGroup, int topkGroup, MoeLayer layer, Tensor x, Tensor dy,
                   float[] denseA, float[] denseB, float[] denseC) {

        static Setting of(String name) {
            return switch (name) {
                case "mixtral" -> build(name, 512, 8, 2, 512, 1792, 0, RouterKind.SOFTMAX_TOPK, 1, 1);
                case "deepseek" -> build(name, 512, 64, 8, 512, 128, 128, RouterKind.DEEPSEEK_V3, 8, 4);
                default -> throw new IllegalArgumentException("unknown shape '" + name + "'; accepted: mixtral, deepseek");
            };
        }

        static Setting build(String name, int t, int e, int k, int d, int f, int sharedF, RouterKind router, int nGroup, int topkGroup) {
            MoeOptions o = new MoeOptions().router(router).experts(e).topK(k).hiddenSize(d).intermediateSize(f)
                    .groups(nGroup, topkGroup).seed(3);
            if (sharedF > 0) o.sharedExpert(sharedF, false);
            MoeLayer layer = new MoeLayer(o);
            Generator g = new Generator(11);
            Tensor x = Tensor.randn(g, DType.F32, t, d);
            Tensor dy = Tensor.randn(g, DType.F32, t, d);
            int rows = t * k;
            float[] a = Tensor.randn(g, DType.F32, rows * d).toFloatArray();
            float[] b = Tensor.randn(g, DType.F32, d * 3 * f).toFloatArray();
            return new Setting(name, t, e, k, d, f, sharedF, router, nGroup, topkGroup, layer, x, dy, a, b, new float[rows * 3 * f]);
        }

        /** Forward flops of the routed experts: 6 d f per (token, slot) pair. */
        double expertFlops() { return 6.0 * tokens * k * d * f; }
    }

    /** Builds the layer and the inputs. */
    @Setup
    public void setUp() { s = Setting.of(shape); }

    /** The layer's forward alone (no graph recorded: the parameters are frozen by not requiring gradients). */
    @Benchmark
    public Tensor forward() { return forward(s); }

    /** Forward, then backward with a random upstream gradient into the input and every parameter. */
    @Benchmark
    public Tensor forwardBackward() { return forwardBackward(s); }

    /** The dense baseline for the forward: one [T k, d] x [d, 3f] GEMM. */
    @Benchmark
    public float[] denseForward() { return dense(s); }

    static Tensor forward(Setting s) {
        try (var ignored = dev.moe4j.autograd.NoGrad.enter()) {
            return s.layer.forward(s.x);
        }
    }

    static Tensor forwardBackward(Setting s) {
        s.layer.zeroGrad();
        Tensor x = s.x.detach().setRequiresGrad(true);
        Tensor y = s.layer.forward(x);
        Autograd.backward(F.sum(F.mul(y, s.dy)));
        return x.grad();
    }

    static float[] dense(Setting s) {
        int m = s.tokens * s.k, n = 3 * s.f, kk = s.d;
        Gemm.sgemm(m, n, kk, 1f, s.denseA, 0, kk, 1, s.denseB, 0, n, 1, 0f, s.denseC, 0, n);
        return s.denseC;
    }

    /** Prints a table of the layer's throughput beside the dense GEMM's. */
    public static void main(String[] args) {
        String[] shapes = args.length > 0 ? args : new String[] {"mixtral", "deepseek"};
        System.out.println("MoE layer vs FLOP-equivalent dense GEMM (best of 7 rounds after 4 s of warm-up), threads: "
                + dev.moe4j.kernels.cpu.Parallel.threads());
        System.out.printf(Locale.ROOT, "%-9s %9s %12s %12s %12s %14s %12s%n",
                "shape", "tokens", "fwd ms", "fwd+bwd ms", "tokens/s", "layer GFLOP/s", "dense GFLOP/s");
        for (String name : shapes) {
            Setting s = Setting.of(name);
            // Warm up for a few seconds: the JIT must compile the vector kernels before they are fast.
            long warmUntil = System.nanoTime() + 4_000_000_000L;
            while (System.nanoTime() < warmUntil) { forward(s); forwardBackward(s); dense(s); }
            double fwd = best(() -> forward(s)), fb = best(() -> forwardBackward(s)), dn = best(() -> dense(s));
            double layerGflops = 3 * s.expertFlops() / fb / 1e9;
            double denseGflops = s.expertFlops() / dn / 1e9;
            System.out.printf(Locale.ROOT, "%-9s %9d %12.2f %12.2f %12.0f %14.1f %12.1f%n",
                    name, s.tokens, fwd * 1e3, fb * 1e3, s.tokens / fb, layerGflops, denseGflops);
        }
        System.out.println("layer GFLOP/s counts the routed experts' forward + backward flops (3 x 6 d f per pair) over the fwd+bwd time.");
    }

    private static double best(Runnable r) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 7; i++) {
            long t0 = System.nanoTime();
            r.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }
}
