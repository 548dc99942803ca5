package dev.moe4j.tensor.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.moe4j.kernels.cuda.CudaDevice;
import dev.moe4j.kernels.cuda.CudaProbe;
import dev.moe4j.kernels.cuda.DeviceBuffer;
import dev.moe4j.kernels.cuda.KernelBuild;
import dev.moe4j.tensor.DType;
import dev.moe4j.tensor.Device;
import dev.moe4j.tensor.Generator;
import dev.moe4j.tensor.Shape;
import dev.moe4j.tensor.Tensor;

import java.util.Arrays;
import java.util.function.Function;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Reductions, softmax and log-softmax of device tensors against the same ops on the CPU: every op,
 * F32 and BF16, every dim of odd and empty shapes, several dims, long reductions (the two-pass path),
 * NaN and ties, non-contiguous inputs, run-to-run identity. Outputs land in memory poisoned with NaN.
 *
 * <p>Tolerances: float sums run in another order than the CPU's (the CPU sums pairwise, the device in
 * strided per-thread sums and a tree), so they are compared to 1e-5 of the sum of |x|; max, min,
 * argmax and argmin must be exact. BF16 results are compared to one bf16 rounding (1e-2).
 */
@Tag("gpu")
class CudaReductionsTest {
    static final Device GPU = Device.cuda(0);
    static final double F32_TOL = 1e-5, BF16_TOL = 1e-2;

    @BeforeEach
    void needsAGpu() {
        Assumptions.assumeTrue(CudaProbe.available(), () -> "no CUDA device: " + CudaProbe.reason());
        Assumptions.assumeTrue(KernelBuild.available(), () -> "CUDA kernels not built: " + KernelBuild.reason());
    }

    /** Frees blocks of the sizes the next outputs take, filled with all-ones bits (NaN in F32 and BF16, -1 in I64). */
    static void poison(long... byteSizes) {
        CudaDevice d = CudaDevice.get(0);
        for (long bytes : byteSizes) {
            if (bytes <= 0) continue;
            DeviceBuffer b = d.allocate(bytes);
            if (bytes % 2 == 0) b.fill16((short) -1);
            b.close();
        }
    }

    static void poisonFor(Tensor cpuResult) { poison((long) cpuResult.numel() * cpuResult.dtype().byteSize(), 4L * cpuResult.numel()); }

    static Tensor randn(long seed, DType dt, int... shape) { return Tensor.randn(new Generator(seed), DType.F32, shape).to(dt); }

    /** Runs op on the CPU and on the device (same input, outputs poisoned), checks dtype and shape, returns {cpu, device-on-cpu}. */
    static Tensor[] both(Tensor x, Function<Tensor, Tensor> op) {
        Tensor want = op.apply(x);
        poisonFor(want);
        Tensor got = op.apply(x.to(GPU));
        assertEquals(GPU, got.device());
        assertEquals(want.dtype(), got.dtype());
        assertArrayEquals(want.shape(), got.shape(), "shape");
        return new Tensor[] {want, got.cpu()};
    }

    /** |got - want| <= tol * max(1, scale[i]) element-wise; NaN only where want is NaN. */
    static void assertClose(String what, Tensor want, Tensor got, double tol, double[] scale) {
        double[] w = want.toDoubleArray(), g = got.toDoubleArray();
        assertEquals(w.length, g.length, what + " length");
        for (int i = 0; i < w.length; i++) {
            if (Double.isNaN(w[i]) && Double.isNaN(g[i])) continue;
            if (w[i] == g[i]) continue;                             // infinities
            double s = Math.max(1, scale == null ? Math.abs(w[i]) : scale[i]);
            if (!(Math.abs(g[i] - w[i]) <= tol * s)) fail(what + " at " + i + ": want " + w[i] + ", got " + g[i] + " (scale " + s + ")");
        }
    }

    /** Equal element for element (NaN equal to NaN, -0.0 different from 0.0). */
    static void assertExact(String what, Tensor want, Tensor got) {
        double[] w = want.toDoubleArray(), g = got.toDoubleArray();
        assertEquals(w.length, g.length, what + " length");
        for (int i = 0; i < w.length; i++) {
            if (Double.compare(w[i], g[i]) != 0) fail(what + " at " + i + ": want " + w[i] + ", got " + g[i]);
        }
    }

    static double tol(DType dt) { return dt == DType.BF16 ? BF16_TOL : F32_TOL; }

    static final int[][] SHAPES = {{7}, {33, 5}, {3, 1025, 2}, {2, 3, 4, 5}, {1, 37}, {5, 1, 3}, {0, 5}, {4, 0}, {2, 0, 3}, {3, 300, 40}};

    @Test
    void singleDimReductionsMatchTheCpuOnEveryDim() {
        long seed = 1;
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (int[] shape : SHAPES) {
                Tensor x = randn(seed++, dt, shape);
                for (int dim = -1; dim < shape.length; dim++) {
                    final int d = dim;
                    String at = dt + " " + Shape.str(shape) + " dim " + d;
                    for (boolean keep : new boolean[] {false, true}) {
                        double[] absSum = x.to(DType.F32).abs().sum(d, keep).toDoubleArray();
                        Tensor[] s = both(x, t -> t.sum(d, keep));
                        assertClose("sum " + at, s[0], s[1], tol(dt), absSum);
                        Tensor[] m = both(x, t -> t.mean(d, keep));
                        int n = shape[Shape.dim(d, shape.length)];
                        double[] absMean = absSum.clone();
                        for (int i = 0; i < absMean.length; i++) absMean[i] /= Math.max(1, n);
                        assertClose("mean " + at, m[0], m[1], tol(dt), absMean);
                        for (int corr = 0; corr <= 1; corr++) {
                            final int c = corr;
                            Tensor[] v = both(x, t -> t.var(new int[] {d}, c, keep));
                            assertClose("var(" + c + ") " + at, v[0], v[1], tol(dt) * 10, null);
                        }
                        Tensor[] l = both(x, t -> t.logsumexp(d, keep));
                        assertClose("logsumexp " + at, l[0], l[1], tol(dt), null);
                        if (n > 0) {
                            assertExact("max " + at, both(x, t -> t.max(d, keep))[0], both(x, t -> t.max(d, keep))[1]);
                            Tensor[] mn = both(x, t -> t.min(d, keep));
                            assertExact("min " + at, mn[0], mn[1]);
                            Tensor[] am = both(x, t -> t.argmax(d, keep));
                            assertExact("argmax " + at, am[0], am[1]);
                            Tensor[] an = both(x, t -> t.argmin(d, keep));
                            assertExact("argmin " + at, an[0], an[1]);
                        } else {
                            assertThatThrownBy(() -> x.to(GPU).max(d, keep)).isInstanceOf(IllegalArgumentException.class);
                            assertThatThrownBy(() -> x.to(GPU).argmin(d, keep)).isInstanceOf(IllegalArgumentException.class);
                        }
                    }
                    Tensor[] sm = both(x, t -> t.softmax(d));
                    assertClose("softmax " + at, sm[0], sm[1], tol(dt), null);
                    Tensor[] lsm = both(x, t -> t.logSoftmax(d));
                    assertClose("logSoftmax " + at, lsm[0], lsm[1], tol(dt), null);
                }
            }
        }
    }

    @Test
    void severalDimsAdjacentOrNotAndAllDims() {
        Tensor x = randn(11, DType.F32, 3, 4, 5, 6);
        int[][] dimSets = {{0, 2}, {1, 2}, {0, 1}, {2, 3}, {0, 3}, {1, 3}, {-1, 0, 1}, null, {}};
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            Tensor xd = x.to(dt);
            for (int[] dims : dimSets) {
                for (boolean keep : new boolean[] {false, true}) {
                    String at = dt + " dims " + Arrays.toString(dims) + " keep " + keep;
                    double[] absSum = xd.to(DType.F32).abs().sum(dims, keep).toDoubleArray();
                    Tensor[] s = both(xd, t -> t.sum(dims, keep));
                    assertClose("sum " + at, s[0], s[1], tol(dt), absSum);
                    Tensor[] m = both(xd, t -> t.mean(dims, keep));
                    assertClose("mean " + at, m[0], m[1], tol(dt), null);
                    Tensor[] v = both(xd, t -> t.var(dims, 1, keep));
                    assertClose("var " + at, v[0], v[1], tol(dt) * 10, null);
                }
            }
        }
        Tensor scalar = Tensor.scalar(DType.F32, 2.5);
        Tensor[] s = both(scalar, Tensor::sum);
        assertExact("0-dim sum", s[0], s[1]);
        Tensor[] mx = both(scalar, t -> t.max(0, false));
        assertExact("0-dim max", mx[0], mx[1]);
        Tensor[] sm = both(scalar, t -> t.softmax(-1));
        assertExact("0-dim softmax", sm[0], sm[1]);
    }

    @Test
    void nonContiguousInputsAreReadCorrectly() {
        Tensor x = randn(21, DType.F32, 17, 9, 4);
        Function<Tensor, Tensor> view = t -> t.permute(2, 0, 1).narrow(1, 2, 13);     // [4, 13, 9], strided
        for (int d = 0; d < 3; d++) {
            final int dim = d;
            double[] absSum = view.apply(x).abs().sum(dim, false).toDoubleArray();
            Tensor[] s = both(x, t -> view.apply(t).sum(dim, false));
            assertClose("sum of a view, dim " + d, s[0], s[1], F32_TOL, absSum);
            Tensor[] a = both(x, t -> view.apply(t).argmax(dim, true));
            assertExact("argmax of a view, dim " + d, a[0], a[1]);
            Tensor[] sm = both(x, t -> view.apply(t).softmax(dim));
            assertClose("softmax of a view, dim " + d, sm[0], sm[1], F32_TOL, null);
        }
    }

    @Test
    void longReductionsRunInTwoPassesAndAreIdenticalRunToRun() {
        Generator g = new Generator(31);
        int[][] shapes = {{1_200_003}, {3, 700_001}, {700_001, 3}, {2, 50_000, 33}};
        int[] dims = {0, 1, 0, 1};
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (int c = 0; c < shapes.length; c++) {
                Tensor x = Tensor.rand(g, DType.F32, shapes[c]).sub(0.25).to(dt);
                int d = dims[c];
                String at = dt + " " + Shape.str(shapes[c]) + " dim " + d;
                double[] absSum = x.to(DType.F32).abs().sum(d, false).toDoubleArray();
                Tensor[] s = both(x, t -> t.sum(d, false));
                assertClose("sum " + at, s[0], s[1], tol(dt), absSum);
                Tensor xd = x.to(GPU);
                assertArrayEquals(s[1].toDoubleArray(), xd.sum(d, false).cpu().toDoubleArray(), "sum run to run " + at);
                Tensor[] mx = both(x, t -> t.max(d, false));
                assertExact("max " + at, mx[0], mx[1]);
                Tensor[] am = both(x, t -> t.argmin(d, false));
                assertExact("argmin " + at, am[0], am[1]);
                Tensor[] l = both(x, t -> t.logsumexp(d, false));
                assertClose("logsumexp " + at, l[0], l[1], tol(dt), null);
                assertArrayEquals(l[1].toDoubleArray(), xd.logsumexp(d, false).cpu().toDoubleArray(), "logsumexp run to run " + at);
                Tensor[] v = both(x, t -> t.var(new int[] {d}, 1, false));
                assertClose("var " + at, v[0], v[1], tol(dt) * 10, null);
                assertArrayEquals(v[1].toDoubleArray(), xd.var(new int[] {d}, 1, false).cpu().toDoubleArray(), "var run to run " + at);
            }
        }
        Tensor all = Tensor.rand(g, DType.F32, 1100, 1001);
        Tensor[] s = both(all, Tensor::sum);
        assertClose("sum of all 1.1M elements", s[0], s[1], F32_TOL, all.abs().sum().toDoubleArray());
        Tensor[] m = both(all, Tensor::mean);
        assertClose("mean of all", m[0], m[1], F32_TOL, null);
    }

    @Test
    void nanInfinitiesTiesAndSignedZerosResolveAsOnTheCpu() {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        Tensor x = Tensor.of(new float[] {
                1, 3, 3, 2, -1,
                nan, 3, nan, 2, 9,
                -0f, 0f, -0f, 0f, -0f,
                -inf, -inf, -inf, -inf, -inf,
                inf, 1, inf, 2, -inf,
                5, 4, 5, 4, nan}, 6, 5);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            Tensor xd = x.to(dt);
            for (int d = 0; d < 2; d++) {
                final int dim = d;
                assertExact(dt + " max dim " + d, both(xd, t -> t.max(dim, false))[0], both(xd, t -> t.max(dim, false))[1]);
                assertExact(dt + " min dim " + d, both(xd, t -> t.min(dim, false))[0], both(xd, t -> t.min(dim, false))[1]);
                assertExact(dt + " argmax dim " + d, both(xd, t -> t.argmax(dim, false))[0], both(xd, t -> t.argmax(dim, false))[1]);
                assertExact(dt + " argmin dim " + d, both(xd, t -> t.argmin(dim, false))[0], both(xd, t -> t.argmin(dim, false))[1]);
                Tensor[] l = both(xd, t -> t.logsumexp(dim, false));
                assertClose(dt + " logsumexp dim " + d, l[0], l[1], tol(dt), null);
            }
        }
    }

    @Test
    void badInputsAreRejectedBeforeAnyLaunch() {
        Tensor i64 = Tensor.arange(10).to(GPU);
        assertThatThrownBy(() -> i64.sum()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64");
        assertThatThrownBy(() -> i64.max(0, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I64");
        Tensor f = Tensor.zeros(3, 0).to(GPU);
        assertThatThrownBy(() -> f.max(1, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[3, 0]");
        assertThatThrownBy(() -> f.sum(new int[] {1, 1}, false)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> f.sum(2, false)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(f.sum(1, false).cpu().toDoubleArray()).containsExactly(0, 0, 0);
        assertThat(java.util.Arrays.stream(f.mean(1, false).cpu().toDoubleArray()).allMatch(Double::isNaN)).isTrue();
    }
}
