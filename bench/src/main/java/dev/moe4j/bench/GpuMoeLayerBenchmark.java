package dev.moe4j.bench;

import dev.moe4j.autograd.Autograd;
import dev.moe4j.autograd.NoGrad;
import dev.moe4j.kernels.cuda.CudaDevice;
import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.moe.MoeLayer;
import dev.moe4j.moe.MoeOptions;
import dev.moe4j.moe.RouterKind;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;
import dev.moe4j.tensor.cuda.CudaTensors;

import java.util.Locale;

/**
 * A whole MoE layer on a CUDA device, through autograd: forward, and forward + backward, in bf16,
 * beside one cuBLAS bf16 GEMM of the same FLOP count measured in the same run.
 *
 * <p>Shapes (T tokens, E experts, top-k, d &rarr; f per expert, SwiGLU experts, so each routed
 * (token, slot) pair costs {@code 6 d f} flops forward and twice that backward):
 * <ul>
 *   <li>{@code mixtral}: T = 4096, E = 8, k = 2, d = 1024, f = 3584 (softmax top-k; Mixtral's f/d = 3.5);</li>
 *   <li>{@code deepseek}: T = 4096, E = 64, k = 8, d = 1024, f = 512 (DeepSeek-V3 routing: sigmoid
 *       scores, 8 groups, 4 kept), without the shared expert so that the FLOP count is the routed one.</li>
 * </ul>
 * The layer's time includes everything the layer does: the router GEMM, gating, the routing plan and
 * the few numbers it brings to the host, permute, the grouped GEMMs, the activation, the combine,
 * and in the backward every kernel's backward and the gradient bookkeeping of autograd. The dense
 * baseline is {@code [T k, d] x [d, 3f]} through cuBLAS (forward + backward counts three of those).
 * Times are CUDA-event medians of 10 repeats after 3 warm-up runs. The sizes are kept moderate
 * because the layer's parameters are drawn on the host (single-threaded) before they move.
 *
 * <p>Usage: {@code GpuMoeLayerBenchmark [--shape mixtral|deepseek]}. Exits with status 2 and the reason
 * when no CUDA device is found.
 */
public final class GpuMoeLayerBenchmark {
    private GpuMoeLayerBenchmark() {}

    /** One layer shape. */
    record Shape(String name, int tokens, int experts, int k, int d, int f, RouterKind router, int nGroup, int topkGroup) {
        /** Forward flops of the routed experts: 6 R d f with R = T k. */
        double forwardFlops() { return 6.0 * tokens * k * d * f; }
    }

    static final Shape[] SHAPES = {
            new Shape("mixtral", 4096, 8, 2, 1024, 3584, RouterKind.SOFTMAX_TOPK, 1, 1),
            new Shape("deepseek", 4096, 64, 8, 1024, 512, RouterKind.DEEPSEEK_V3, 8, 4),
    };

    /** Runs the benchmark; see the class comment. */
    public static void main(String[] args) {
        String only = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--shape") && i + 1 < args.length) only = args[++i];
            else {
                System.err.println("usage: GpuMoeLayerBenchmark [--shape mixtral|deepseek]");
                System.exit(1);
            }
        }
        if (!CudaProbe.available() || !KernelBuild.available()) {
            System.err.println("GpuMoeLayerBenchmark: no CUDA device: "
                    + (CudaProbe.available() ? KernelBuild.reason() : CudaProbe.reason()));
            System.exit(2);
        }
        Device gpu = Device.cuda(0);
        CudaDevice dev = CudaTensors.device(0);
        System.out.println("device: " + dev.info());
        System.out.println(String.format(Locale.ROOT, "%-9s %-14s %10s %12s %12s %s", "shape", "pass", "ms", "tokens/s", "TFLOP/s",
                "cuBLAS bf16, same flops"));
        for (Shape s : SHAPES) {
            if (only != null && !only.equals(s.name)) continue;
            run(s, gpu, dev);
        }
    }

    private static void run(Shape s, Device gpu, CudaDevice dev) {
        MoeOptions o = new MoeOptions().router(s.router).experts(s.experts).topK(s.k).hiddenSize(s.d).intermediateSize(s.f)
                .groups(s.nGroup, s.topkGroup).dtype(DType.BF16).seed(5);
        MoeLayer layer = new MoeLayer(o);
        layer.to(gpu);
        Generator g = new Generator(9);
        Tensor x = Tensor.randn(g, DType.BF16, s.tokens, s.d).to(gpu);
        Tensor dy = Tensor.randn(g, DType.BF16, s.tokens, s.d).to(gpu);

        double fwd = median(dev, () -> {
            try (NoGrad ignored = NoGrad.enter()) {
                layer.forward(x);
            }
        });
        double both = median(dev, () -> {
            layer.zeroGrad();
            Tensor y = layer.forward(x);
            Autograd.backward(y, dy);
        });
        int rows = s.tokens * s.k;
        Tensor a = Tensor.randn(g, DType.BF16, rows, s.d).to(gpu);
        Tensor b = Tensor.randn(g, DType.BF16, s.d, 3 * s.f).to(gpu);
        double dense = median(dev, () -> a.matmul(b));
        double denseTflops = 2.0 * rows * s.d * 3.0 * s.f / (dense * 1e9);
        print(s, "forward", fwd, s.forwardFlops(), denseTflops);
        print(s, "fwd + bwd", both, 3 * s.forwardFlops(), denseTflops);
    }

    private static void print(Shape s, String pass, double ms, double flops, double denseTflops) {
        double tflops = flops / (ms * 1e9);
        System.out.println(String.format(Locale.ROOT, "%-9s %-14s %10.3f %12.0f %12.1f %.1f TFLOP/s (layer at %.0f%%)", s.name, pass, ms,
                s.tokens / (ms * 1e-3), tflops, denseTflops, 100 * tflops / denseTflops));
    }

    /** Median CUDA-event time in ms of 10 runs after 3 warm-up runs ({@link GpuMoeBenchmark#median}). */
    static double median(CudaDevice dev, Runnable work) {
        return GpuMoeBenchmark.median(dev, 3, 10, i -> work.run());
    }
}
