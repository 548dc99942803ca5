package dev.moe4j.bench;

import dev.moe4j.kernels.cpu.Parallel;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Tensor;

/**
 * A short tour of the tensor layer: creation, views without copies, broadcasting, a softmax and a
 * top-k, then a timed matrix product in GFLOP/s on 1 thread and on every core.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.moe4j.bench.TensorDemo [size]
 * </pre>
 */
public final class TensorDemo {
    private TensorDemo() {}

    /** Runs the tour; the optional argument is the square matmul size (default 1024). */
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
        Generator gen = new Generator(7);

        Tensor x = Tensor.arange(DType.F32, 0, 12, 1).view(3, 4);
        System.out.println("x            = " + x);
        System.out.println("x.mT()       = " + x.mT() + "  (a view: strides " + java.util.Arrays.toString(x.mT().strides()) + ")");
        System.out.println("x[:, 1:3]    = " + x.narrow(1, 1, 2));
        Tensor row = Tensor.vector(1, 10, 100, 1000);
        System.out.println("x * row      = " + x.mul(row) + "  (row broadcast over 3 rows)");
        Tensor logits = Tensor.randn(gen, DType.F32, 2, 6);
        System.out.println("softmax(z)   = " + logits.softmax(-1));
        var top = logits.topk(2, -1, true);
        System.out.println("top-2 ids    = " + top.indices());
        System.out.println("x @ x.mT()   = " + x.matmul(x.mT()));

        Tensor a = Tensor.randn(gen, DType.F32, n, n);
        Tensor b = Tensor.randn(gen, DType.F32, n, n);
        int cores = Runtime.getRuntime().availableProcessors();
        for (int threads : new int[] {1, cores}) {
            Parallel.setThreads(threads);
            double best = Double.MAX_VALUE;
            for (int rep = 0; rep < 6; rep++) {
                long t0 = System.nanoTime();
                a.matmul(b);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            System.out.printf("matmul %dx%d x %dx%d on %d thread(s): %.2f ms, %.1f GFLOP/s%n",
                    n, n, n, n, threads, best * 1e3, 2.0 * n * n * n / best / 1e9);
            if (cores == 1) break;
        }
    }
}
