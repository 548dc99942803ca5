package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static dev.moe4j.kernels.cpu.KernelTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Vector API unary kernels against the scalar reference; the reference against plain formulas. */
class UnaryKernelsTest {
    private static final float[] SPECIAL_F = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f,
            Float.MIN_VALUE, -Float.MIN_VALUE, 1e-30f, 88f, -88f, 100f, -100f, 1e30f, -1e30f};
    private static final double[] SPECIAL_D = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0,
            Double.MIN_VALUE, -Double.MIN_VALUE, 1e-300, 700, -700, 800, -800, 1e300, -1e300, 2.828, -2.83, 40, -40};

    private static boolean positiveDomain(UnaryOp op) {
        return op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
    }

    /** Exact-arithmetic ops: fast and reference agree bit for bit. */
    private static boolean exact(UnaryOp op) {
        return op == UnaryOp.NEG || op == UnaryOp.ABS || op == UnaryOp.SQRT || op == UnaryOp.RSQRT || op == UnaryOp.RELU;
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void floatFastMatchesReference(UnaryOp op) {
        Random rnd = new Random(op.ordinal());
        for (int n : SIZES) {
            float[] x = positiveDomain(op) ? randomFloats(rnd, n, 1e-3, 50) : randomFloats(rnd, n, -12, 12);
            for (int i = 0; i < Math.min(n, SPECIAL_F.length); i++) x[(i * 7) % n] = SPECIAL_F[i];
            float[] fast = new float[n + 2], ref = new float[n + 2];
            UnaryKernels.apply(op, x, 0, 1, fast, 1, n);
            UnaryKernels.applyReference(op, x, 0, 1, ref, 1, n);
            if (exact(op)) {
                assertSame(op + " n=" + n, fast, ref);
            } else {
                for (int i = 0; i < n; i++) {
                    assertThat(close(fast[1 + i], ref[1 + i], F32_REL * conditionF32(op, x[i]), F32_ABS))
                            .as("%s n=%d at x=%s: fast %s, reference %s", op, n, x[i], fast[1 + i], ref[1 + i]).isTrue();
                }
            }
            assertThat(fast[0]).isZero();
            assertThat(fast[n + 1]).as("no write past the row").isZero();
        }
    }

    /**
     * Float lanes of GELU_TANH round the exponent's argument 2y in float, so their relative error is
     * about |2y| ulps; every other op's lanes are within a few ulps.
     */
    private static double conditionF32(UnaryOp op, float x) {
        if (op != UnaryOp.GELU_TANH) return 1;
        double ax = Math.abs(x);
        return Math.max(1, 1.6 * (ax + 0.045 * ax * ax * ax));
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void doubleFastMatchesReference(UnaryOp op) {
        Random rnd = new Random(100 + op.ordinal());
        for (int n : SIZES) {
            double[] x = positiveDomain(op) ? randomDoubles(rnd, n, 1e-3, 50) : randomDoubles(rnd, n, -12, 12);
            for (int i = 0; i < Math.min(n, SPECIAL_D.length); i++) x[(i * 5) % n] = SPECIAL_D[i];
            double[] fast = new double[n], ref = new double[n];
            UnaryKernels.apply(op, x, 0, 1, fast, 0, n);
            UnaryKernels.applyReference(op, x, 0, 1, ref, 0, n);
            if (exact(op)) assertSame(op + " n=" + n, fast, ref);
            else assertClose(op + " n=" + n, fast, ref, F64_REL, F64_ABS);
        }
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void stridedAndBroadcastRowsUseTheReferenceSemantics(UnaryOp op) {
        Random rnd = new Random(200 + op.ordinal());
        int n = 37;
        double[] x = positiveDomain(op) ? randomDoubles(rnd, 3 * n, 0.1, 5) : randomDoubles(rnd, 3 * n, -5, 5);
        double[] strided = new double[n], want = new double[n];
        UnaryKernels.apply(op, x, 2, 3, strided, 0, n);
        for (int i = 0; i < n; i++) want[i] = op.apply(x[2 + 3 * i]);
        assertSame(op + " stride 3", strided, want);
        double[] broadcast = new double[n];
        UnaryKernels.apply(op, x, 5, 0, broadcast, 0, n);
        for (int i = 0; i < n; i++) assertThat(broadcast[i]).isEqualTo(op.apply(x[5]));
    }

    @Test
    void referenceFollowsTheFormulas() {
        Random rnd = new Random(3);
        for (int t = 0; t < 500; t++) {
            double x = (rnd.nextDouble() - 0.5) * 20;
            assertThat(UnaryOp.SIGMOID.apply(x)).isCloseTo(1 / (1 + Math.exp(-x)), org.assertj.core.data.Offset.offset(1e-15));
            assertThat(UnaryOp.SILU.apply(x)).isCloseTo(x / (1 + Math.exp(-x)), org.assertj.core.data.Offset.offset(1e-14));
            double tanhForm = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            double cancellation = 1e-15 * Math.max(1, Math.abs(x));     // the 1 + tanh / 1 + erf forms lose about eps * |x|
            assertThat(close(UnaryOp.GELU_TANH.apply(x), tanhForm, 1e-12, cancellation)).as("gelu_tanh at %s", x).isTrue();
            double phi = 0.5 * (1 + Erf.erf(x / Math.sqrt(2)));
            assertThat(close(UnaryOp.GELU.apply(x), x * phi, 1e-12, cancellation)).as("gelu at %s", x).isTrue();
        }
        // the left tail keeps relative accuracy: GELU(-10) = -10 * Phi(-10), Phi(-10) = erfc(10/sqrt2)/2 ~ 7.6e-24
        double g = UnaryOp.GELU.apply(-10.0);
        assertThat(g).isLessThan(0).isGreaterThan(-1e-21);
        assertThat(g).isCloseTo(-10 * 0.5 * Erf.erfc(10 / Math.sqrt(2)), org.assertj.core.data.Offset.offset(1e-35));
    }

    @Test
    void geluFloatLanesAreWithinTheStatedUlpsOfTheDoubleFormula() {
        Random rnd = new Random(5);
        float[] x = randomFloats(rnd, 1000, -8, 8);
        float[] out = new float[1000];
        UnaryKernels.apply(UnaryOp.GELU, x, 0, 1, out, 0, 1000);
        for (int i = 0; i < 1000; i++) {
            double want = 0.5 * x[i] * Erf.erfc(-x[i] / Math.sqrt(2));
            assertThat(FloatErfTest.ulpError(out[i], want)).as("gelu(%s) = %s, want %s", x[i], out[i], want)
                    .isLessThanOrEqualTo(FloatErfTest.GELU_ULPS);
        }
    }

    @Test
    void integerOps() {
        long[] x = {-5, 0, 7, Long.MIN_VALUE, Long.MAX_VALUE, -1};
        long[] out = new long[x.length];
        UnaryKernels.apply(UnaryOp.NEG, x, 0, 1, out, 0, x.length);
        assertThat(out).containsExactly(5, 0, -7, Long.MIN_VALUE, -Long.MAX_VALUE, 1);
        UnaryKernels.apply(UnaryOp.ABS, x, 0, 1, out, 0, x.length);
        assertThat(out).containsExactly(5, 0, 7, Long.MIN_VALUE, Long.MAX_VALUE, 1);
        UnaryKernels.apply(UnaryOp.RELU, x, 0, 1, out, 0, x.length);
        assertThat(out).containsExactly(0, 0, 7, 0, Long.MAX_VALUE, 0);
        assertThatThrownBy(() -> UnaryKernels.apply(UnaryOp.EXP, x, 0, 1, out, 0, x.length))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("EXP");
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void ndFormOnTransposedAndExpandedViews(UnaryOp op) {
        Random rnd = new Random(300 + op.ordinal());
        int[] shape = {3, 5, 4};
        double[] base = positiveDomain(op) ? randomDoubles(rnd, 100, 0.1, 9) : randomDoubles(rnd, 100, -6, 6);
        int[][] stridesList = {{20, 4, 1}, {1, 3, 15}, {0, 4, 1}, {21, 0, 5}, {4, 20, 1}};
        for (int[] strides : stridesList) {
            double[] fast = new double[60], ref = new double[60], naive = new double[60];
            UnaryKernels.apply(op, base, 2, strides, fast, 0, shape);
            UnaryKernels.applyReference(op, base, 2, strides, ref, 0, shape);
            int k = 0;
            for (int i = 0; i < 3; i++) for (int j = 0; j < 5; j++) for (int l = 0; l < 4; l++) {
                naive[k++] = op.apply(base[2 + i * strides[0] + j * strides[1] + l * strides[2]]);
            }
            assertSame(op + " reference n-d", ref, naive);
            assertClose(op + " fast n-d", fast, naive, F64_REL, F64_ABS);
        }
    }

    @Test
    void rejectsMismatchedArrays() {
        assertThatThrownBy(() -> UnaryKernels.apply(UnaryOp.EXP, new float[4], 0, new int[] {1}, new double[4], 0, new int[] {4}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("float[]").hasMessageContaining("double[]");
    }
}
