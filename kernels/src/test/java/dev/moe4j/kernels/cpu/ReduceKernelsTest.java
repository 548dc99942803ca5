package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Random;

import static dev.moe4j.kernels.cpu.KernelTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reductions: Vector API against the scalar reference, and sums against exact (BigDecimal) sums. */
class ReduceKernelsTest {
    private static final int[] STRIDES = {1, 2, 5};

    /** Exact sum of doubles. */
    private static double exactSum(double[] x, int off, int stride, int n) {
        BigDecimal s = BigDecimal.ZERO;
        for (int i = 0; i < n; i++) s = s.add(new BigDecimal(x[off + i * stride]));
        return s.round(MathContext.DECIMAL64).doubleValue();
    }

    private static double absSum(double[] x, int off, int stride, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.abs(x[off + i * stride]);
        return s;
    }

    @Test
    void sumsAreAccurateAndFastMatchesReference() {
        Random rnd = new Random(1);
        for (int n : new int[] {0, 1, 2, 7, 17, 100, 1023, 4099, 100_003}) {
            for (int stride : STRIDES) {
                double[] x = randomDoubles(rnd, n * stride + 1, -1, 1);
                double exact = exactSum(x, 1, stride, n), scale = absSum(x, 1, stride, n) + 1e-300;
                double fast = ReduceKernels.sum(x, 1, stride, n), ref = ReduceKernels.sumReference(x, 1, stride, n);
                assertThat(Math.abs(fast - exact) / scale).as("F64 fast n=%d stride=%d", n, stride).isLessThan(1e-15);
                assertThat(Math.abs(ref - exact) / scale).as("F64 reference n=%d stride=%d", n, stride).isLessThan(1e-15);
                float[] xf = new float[x.length];
                double[] xfd = new double[x.length];
                for (int i = 0; i < x.length; i++) { xf[i] = (float) x[i]; xfd[i] = xf[i]; }
                double exactF = exactSum(xfd, 1, stride, n);
                float ff = ReduceKernels.sum(xf, 1, stride, n), fr = ReduceKernels.sumReference(xf, 1, stride, n);
                assertThat(Math.abs(ff - exactF) / scale).as("F32 fast n=%d", n).isLessThan(2e-6);
                assertThat(Math.abs(fr - exactF) / scale).as("F32 reference n=%d", n).isLessThan(2e-6);
            }
        }
    }

    @Test
    void pairwiseBeatsOrderedSummationOnALongRun() {
        int n = 1 << 20;
        float[] x = new float[n];
        java.util.Arrays.fill(x, 0.1f);
        double exact = 0.1f * (double) n;
        float naive = 0f;
        for (float v : x) naive += v;
        assertThat(Math.abs(ReduceKernels.sumReference(x, 0, 1, n) - exact) / exact).isLessThan(1e-6);
        assertThat(Math.abs(ReduceKernels.sum(x, 0, 1, n) - exact) / exact).isLessThan(1e-6);
        assertThat(Math.abs(naive - exact) / exact).as("ordered float sum drifts").isGreaterThan(1e-3);
    }

    @Test
    void integerSum() {
        long[] x = {5, -2, Long.MAX_VALUE, 1, 9};
        assertThat(ReduceKernels.sum(x, 0, 1, 2)).isEqualTo(3);
        assertThat(ReduceKernels.sum(x, 2, 1, 2)).isEqualTo(Long.MIN_VALUE);
        assertThat(ReduceKernels.sum(x, 0, 2, 3)).isEqualTo(5 + Long.MAX_VALUE + 9);
        assertThat(ReduceKernels.sum(x, 0, 1, 0)).isZero();
    }

    @Test
    void columnSumsEqualTheReferenceExactly() {
        Random rnd = new Random(2);
        for (int rows : new int[] {0, 1, 3, 8, 9, 17, 100, 1023}) {
            for (int cols : new int[] {1, 5, 16, 17, 1025, 2100}) {
                if ((long) rows * cols > 400_000) continue;
                int ld = cols + rnd.nextInt(3);
                double[] x = randomDoubles(rnd, rows * ld + 2, -1, 1);
                float[] xf = randomFloats(rnd, rows * ld + 2, -1, 1);
                double[] d = new double[cols + 1], dr = new double[cols + 1];
                float[] f = new float[cols + 1], fr = new float[cols + 1];
                ReduceKernels.sumColumns(x, 2, rows, cols, ld, d, 1);
                ReduceKernels.sumColumnsReference(x, 2, rows, cols, ld, dr, 1);
                ReduceKernels.sumColumns(xf, 2, rows, cols, ld, f, 1);
                ReduceKernels.sumColumnsReference(xf, 2, rows, cols, ld, fr, 1);
                assertSame("F64 columns " + rows + "x" + cols, d, dr);
                assertSame("F32 columns " + rows + "x" + cols, f, fr);
                for (int j = 0; j < cols; j++) {
                    double exact = exactSum(x, 2 + j, ld, rows);
                    assertThat(Math.abs(d[1 + j] - exact)).isLessThanOrEqualTo(1e-15 * (absSum(x, 2 + j, ld, rows) + 1e-300));
                }
                long[] xl = new long[rows * ld + 2];
                for (int i = 0; i < xl.length; i++) xl[i] = rnd.nextInt(1000) - 500;
                long[] l = new long[cols], lr = new long[cols];
                ReduceKernels.sumColumns(xl, 2, rows, cols, ld, l, 0);
                ReduceKernels.sumColumnsReference(xl, 2, rows, cols, ld, lr, 0);
                assertThat(l).isEqualTo(lr);
            }
        }
    }

    @Test
    void maxMinArgmaxArgminMatchReference() {
        Random rnd = new Random(3);
        for (int n : SIZES) {
            if (n == 0) continue;
            for (int stride : STRIDES) {
                for (int variant = 0; variant < 5; variant++) {
                    double[] x = randomDoubles(rnd, n * stride + 1, -3, 3);
                    if (variant == 1) for (int i = 0; i < x.length; i++) x[i] = Math.round(x[i]);        // many ties
                    if (variant == 2) x[1 + rnd.nextInt(n) * stride] = Double.NaN;
                    if (variant == 3) { x[1 + (n - 1) * stride] = Double.NaN; x[1] = Double.NaN; }
                    if (variant == 4) for (int i = 0; i < x.length; i++) x[i] = rnd.nextBoolean() ? 0.0 : -0.0;
                    float[] xf = new float[x.length];
                    for (int i = 0; i < x.length; i++) xf[i] = (float) x[i];
                    String what = "n=" + n + " stride=" + stride + " variant=" + variant;
                    assertThat(same(ReduceKernels.max(x, 1, stride, n), ReduceKernels.maxReference(x, 1, stride, n))).as("max " + what).isTrue();
                    assertThat(same(ReduceKernels.min(x, 1, stride, n), ReduceKernels.minReference(x, 1, stride, n))).as("min " + what).isTrue();
                    assertThat(same(ReduceKernels.max(xf, 1, stride, n), ReduceKernels.maxReference(xf, 1, stride, n))).as("max f " + what).isTrue();
                    assertThat(same(ReduceKernels.min(xf, 1, stride, n), ReduceKernels.minReference(xf, 1, stride, n))).as("min f " + what).isTrue();
                    assertThat(ReduceKernels.argmax(x, 1, stride, n)).as("argmax " + what).isEqualTo(ReduceKernels.argmaxReference(x, 1, stride, n));
                    assertThat(ReduceKernels.argmin(x, 1, stride, n)).as("argmin " + what).isEqualTo(ReduceKernels.argminReference(x, 1, stride, n));
                    assertThat(ReduceKernels.argmax(xf, 1, stride, n)).as("argmax f " + what).isEqualTo(ReduceKernels.argmaxReference(xf, 1, stride, n));
                    assertThat(ReduceKernels.argmin(xf, 1, stride, n)).as("argmin f " + what).isEqualTo(ReduceKernels.argminReference(xf, 1, stride, n));
                    // the reference against its definition
                    int firstNaN = -1, argmax = 0;
                    for (int i = 0; i < n; i++) {
                        double v = x[1 + i * stride];
                        if (Double.isNaN(v) && firstNaN < 0) firstNaN = i;
                        if (v > x[1 + argmax * stride]) argmax = i;
                    }
                    assertThat(ReduceKernels.argmaxReference(x, 1, stride, n)).isEqualTo(firstNaN >= 0 ? firstNaN : argmax);
                    assertThat(Double.isNaN(ReduceKernels.maxReference(x, 1, stride, n))).isEqualTo(firstNaN >= 0);
                }
            }
        }
    }

    @Test
    void integerExtremes() {
        long[] x = {3, 9, -4, 9, -4};
        assertThat(ReduceKernels.max(x, 0, 1, 5)).isEqualTo(9);
        assertThat(ReduceKernels.min(x, 0, 1, 5)).isEqualTo(-4);
        assertThat(ReduceKernels.argmax(x, 0, 1, 5)).isEqualTo(1);
        assertThat(ReduceKernels.argmin(x, 0, 1, 5)).isEqualTo(2);
        assertThat(ReduceKernels.argmax(x, 0, 2, 3)).isEqualTo(0);
    }

    @Test
    void emptyRunsAreRejectedForExtremes() {
        assertThatThrownBy(() -> ReduceKernels.max(new float[3], 0, 1, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max");
        assertThatThrownBy(() -> ReduceKernels.argmin(new double[3], 0, 1, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("argmin");
        assertThatThrownBy(() -> ReduceKernels.argmax(new long[3], 0, 1, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("argmax");
    }

    @Test
    void logSumExpIsStableAndMatchesReference() {
        Random rnd = new Random(4);
        for (int n : SIZES) {
            for (int stride : STRIDES) {
                double[] x = randomDoubles(rnd, n * stride + 1, -30, 30);
                double fast = ReduceKernels.logSumExp(x, 1, stride, n), ref = ReduceKernels.logSumExpReference(x, 1, stride, n);
                assertThat(close(fast, ref, 1e-14, 1e-14)).as("F64 n=%d: %s vs %s", n, fast, ref).isTrue();
                float[] xf = new float[x.length];
                for (int i = 0; i < x.length; i++) xf[i] = (float) x[i];
                float ff = ReduceKernels.logSumExp(xf, 1, stride, n), fr = ReduceKernels.logSumExpReference(xf, 1, stride, n);
                assertThat(close(ff, fr, 2e-6, 2e-6)).as("F32 n=%d: %s vs %s", n, ff, fr).isTrue();
                if (n > 0) {                                            // naive formula where it does not overflow
                    double naive = 0;
                    for (int i = 0; i < n; i++) naive += Math.exp(x[1 + i * stride]);
                    assertThat(close(ref, Math.log(naive), 1e-13, 1e-13)).isTrue();
                }
            }
        }
        double[] big = {1000, 1000, 999};
        assertThat(ReduceKernels.logSumExp(big, 0, 1, 3)).isCloseTo(1000 + Math.log(2 + Math.exp(-1)), org.assertj.core.data.Offset.offset(1e-12));
        double ninf = Double.NEGATIVE_INFINITY, inf = Double.POSITIVE_INFINITY;
        assertThat(ReduceKernels.logSumExp(new double[] {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf}, 0, 1, 9)).isEqualTo(ninf);
        assertThat(ReduceKernels.logSumExp(new double[] {1, inf, 2}, 0, 1, 3)).isEqualTo(inf);
        assertThat(ReduceKernels.logSumExp(new double[] {1, Double.NaN, 2}, 0, 1, 3)).isNaN();
        assertThat(ReduceKernels.logSumExp(new float[0], 0, 1, 0)).isEqualTo(Float.NEGATIVE_INFINITY);
    }

    @Test
    void varianceMatchesTwoPassInBigDecimal() {
        Random rnd = new Random(5);
        for (int n : SIZES) {
            for (int stride : STRIDES) {
                double[] x = randomDoubles(rnd, n * stride + 1, 1e6, 1e6 + 1);   // large mean, small spread
                for (int correction : new int[] {0, 1, 2}) {
                    double fast = ReduceKernels.variance(x, 1, stride, n, correction);
                    double ref = ReduceKernels.varianceReference(x, 1, stride, n, correction);
                    double want = exactVariance(x, 1, stride, n, correction);
                    String what = "n=" + n + " stride=" + stride + " correction=" + correction;
                    assertThat(close(ref, want, 1e-9, 0)).as("reference " + what + ": " + ref + " vs " + want).isTrue();
                    assertThat(close(fast, want, 1e-9, 0)).as("fast " + what + ": " + fast + " vs " + want).isTrue();
                }
            }
        }
    }

    private static double exactVariance(double[] x, int off, int stride, int n, int correction) {
        if (n == 0) return Double.NaN;
        MathContext mc = new MathContext(50);
        BigDecimal s = BigDecimal.ZERO;
        for (int i = 0; i < n; i++) s = s.add(new BigDecimal(x[off + i * stride]));
        BigDecimal mean = s.divide(BigDecimal.valueOf(n), mc), ss = BigDecimal.ZERO;
        for (int i = 0; i < n; i++) {
            BigDecimal e = new BigDecimal(x[off + i * stride]).subtract(mean);
            ss = ss.add(e.multiply(e));
        }
        double denominator = Math.max(0, n - correction);
        return ss.doubleValue() / denominator;
    }
}
