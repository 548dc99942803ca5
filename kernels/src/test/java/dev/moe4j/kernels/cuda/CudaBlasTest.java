package dev.moe4j.kernels.cuda;

import static dev.moe4j.kernels.cuda.GpuTestSupport.*;

import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** cuBLAS through {@link CudaBlas}: row-major products with transposes, float and bf16, against a double reference. */
@Tag("gpu")
class CudaBlasTest {

    @Test
    void rowMajorProductsWithTransposes() {
        CudaDevice dev = device();
        Random rnd = new Random(4);
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {64, 48, 80}, {129, 257, 63}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    for (CudaDType type : CudaDType.values()) {
                        boolean bf = type == CudaDType.BF16;
                        float[] a = gaussian(rnd, m * k), b = gaussian(rnd, k * n);
                        if (bf) { a = roundBf16(a); b = roundBf16(b); }
                        double[] want = new double[m * n];
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < n; j++) {
                                double dot = 0;
                                for (int p = 0; p < k; p++) dot += (double) (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                                want[i * n + j] = dot;
                            }
                        }
                        try (DeviceBuffer ga = bf ? upload(dev, toBf16(a)) : upload(dev, a);
                             DeviceBuffer gb = bf ? upload(dev, toBf16(b)) : upload(dev, b);
                             DeviceBuffer gc = bf ? poisoned16(dev, (long) m * n) : poisoned32(dev, (long) m * n)) {
                            dev.blas().gemm(type, ta, tb, m, n, k, 1f, ga, ta ? m : k, gb, tb ? k : n, 0f, gc, n);
                            float[] got = bf ? fromBf16(gc.readShorts(m * n)) : gc.readFloats(m * n);
                            // float products may run on TF32 only if asked; the default math mode keeps fp32
                            assertCloseToScale(type + " m=" + m + " n=" + n + " k=" + k + " ta=" + ta + " tb=" + tb, want, got,
                                    bf ? BF16_TOL : F32_TOL, 1e-3);
                        }
                    }
                }
            }
        }
    }
}
