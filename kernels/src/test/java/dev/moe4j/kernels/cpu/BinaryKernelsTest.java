package dev.moe4j.kernels.cpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static dev.moe4j.kernels.cpu.KernelTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Binary, compare, select, axpy and scale kernels: Vector API against the scalar reference, and the n-d walk. */
class BinaryKernelsTest {
    /** (aStride, bStride) pairs: contiguous, broadcast either side, both broadcast, and strided (reference path). */
    private static final int[][] STRIDES = {{1, 1}, {1, 0}, {0, 1}, {0, 0}, {2, 1}, {1, 3}};

    private static float[] withSpecials(float[] a) {
        float[] sp = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f};
        for (int i = 0; i < sp.length && i * 11 < a.length; i++) a[i * 11] = sp[i];
        return a;
    }

    private static double[] withSpecials(double[] a) {
        double[] sp = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0};
        for (int i = 0; i < sp.length && i * 13 < a.length; i++) a[i * 13] = sp[i];
        return a;
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void floatFastMatchesReference(BinaryOp op) {
        Random rnd = new Random(op.ordinal());
        for (int n : SIZES) {
            for (int[] st : STRIDES) {
                float[] a = withSpecials(randomFloats(rnd, 3 * n + 3, op == BinaryOp.POW ? 0 : -4, 4));
                float[] b = withSpecials(randomFloats(rnd, 3 * n + 3, -4, 4));
                float[] fast = new float[n], ref = new float[n];
                BinaryKernels.apply(op, a, 1, st[0], b, 2, st[1], fast, 0, n);
                BinaryKernels.applyReference(op, a, 1, st[0], b, 2, st[1], ref, 0, n);
                String what = op + " n=" + n + " strides=" + st[0] + "," + st[1];
                if (op == BinaryOp.POW) assertClose(what, fast, ref, F32_REL, F32_ABS);
                else assertSame(what, fast, ref);
                for (int i = 0; i < n; i++) {                       // and the reference is the op
                    if (!same(ref[i], op.apply(a[1 + i * st[0]], b[2 + i * st[1]]))) throw new AssertionError(what + " reference at " + i);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void doubleFastMatchesReference(BinaryOp op) {
        Random rnd = new Random(50 + op.ordinal());
        for (int n : SIZES) {
            for (int[] st : STRIDES) {
                double[] a = withSpecials(randomDoubles(rnd, 3 * n + 3, op == BinaryOp.POW ? 0 : -4, 4));
                double[] b = withSpecials(randomDoubles(rnd, 3 * n + 3, -4, 4));
                double[] fast = new double[n], ref = new double[n];
                BinaryKernels.apply(op, a, 1, st[0], b, 2, st[1], fast, 0, n);
                BinaryKernels.applyReference(op, a, 1, st[0], b, 2, st[1], ref, 0, n);
                String what = op + " n=" + n + " strides=" + st[0] + "," + st[1];
                if (op == BinaryOp.POW) assertClose(what, fast, ref, F64_REL, F64_ABS);
                else assertSame(what, fast, ref);
            }
        }
    }

    @Test
    void maximumAndMinimumPropagateNaN() {
        double[] a = {1, Double.NaN, 3, -0.0}, b = {Double.NaN, 2, 1, 0.0};
        double[] out = new double[4];
        BinaryKernels.apply(BinaryOp.MAXIMUM, a, 0, 1, b, 0, 1, out, 0, 4);
        assertThat(out[0]).isNaN();
        assertThat(out[1]).isNaN();
        assertThat(out[2]).isEqualTo(3.0);
        BinaryKernels.apply(BinaryOp.MINIMUM, a, 0, 1, b, 0, 1, out, 0, 4);
        assertThat(out[0]).isNaN();
        assertThat(out[1]).isNaN();
        assertThat(out[2]).isEqualTo(1.0);
    }

    @Test
    void integerArithmeticWrapsAndPowersBySquaring() {
        long[] a = {7, -3, Long.MAX_VALUE, 2, 0, 5}, b = {2, 3, 1, 62, 0, 0};
        long[] out = new long[6];
        BinaryKernels.apply(BinaryOp.ADD, a, 0, 1, b, 0, 1, out, 0, 6);
        assertThat(out).containsExactly(9, 0, Long.MIN_VALUE, 64, 0, 5);
        BinaryKernels.apply(BinaryOp.POW, a, 0, 1, b, 0, 1, out, 0, 6);
        assertThat(out).containsExactly(49, -27, Long.MAX_VALUE, 1L << 62, 1, 1);
        BinaryKernels.apply(BinaryOp.MAXIMUM, a, 0, 1, b, 0, 0, out, 0, 6);
        assertThat(out).containsExactly(7, 2, Long.MAX_VALUE, 2, 2, 5);
        assertThatThrownBy(() -> BinaryKernels.apply(BinaryOp.DIV, a, 0, 1, b, 0, 1, out, 0, 6))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("DIV");
        assertThatThrownBy(() -> BinaryKernels.apply(BinaryOp.POW, a, 0, 1, new long[] {-1}, 0, 0, out, 0, 6))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
    }

    @ParameterizedTest
    @EnumSource(CompareOp.class)
    void comparisonsMatchReference(CompareOp op) {
        Random rnd = new Random(op.ordinal());
        for (int n : SIZES) {
            for (int[] st : STRIDES) {
                float[] a = withSpecials(randomFloats(rnd, 3 * n + 3, -2, 2));
                float[] b = withSpecials(randomFloats(rnd, 3 * n + 3, -2, 2));
                for (int i = 0; i < a.length; i += 3) a[i] = b[i];     // plenty of equal pairs
                double[] ad = new double[a.length], bd = new double[b.length];
                for (int i = 0; i < a.length; i++) { ad[i] = a[i]; bd[i] = b[i]; }
                byte[] ff = new byte[n], fr = new byte[n], df = new byte[n], dr = new byte[n];
                BinaryKernels.compare(op, a, 0, st[0], b, 0, st[1], ff, 0, n);
                BinaryKernels.compareReference(op, a, 0, st[0], b, 0, st[1], fr, 0, n);
                BinaryKernels.compare(op, ad, 0, st[0], bd, 0, st[1], df, 0, n);
                BinaryKernels.compareReference(op, ad, 0, st[0], bd, 0, st[1], dr, 0, n);
                assertThat(ff).as("%s float n=%d", op, n).isEqualTo(fr);
                assertThat(df).as("%s double n=%d", op, n).isEqualTo(dr);
                assertThat(dr).isEqualTo(fr);
                for (int i = 0; i < n; i++) {
                    assertThat(fr[i] == 1).isEqualTo(op.test(a[i * st[0]], b[i * st[1]]));
                }
            }
        }
        byte[] nan = new byte[1];
        BinaryKernels.compare(op, new double[] {Double.NaN}, 0, 1, new double[] {Double.NaN}, 0, 1, nan, 0, 1);
        assertThat(nan[0]).isEqualTo((byte) (op == CompareOp.NE ? 1 : 0));
    }

    @Test
    void selectMatchesReference() {
        Random rnd = new Random(9);
        for (int n : SIZES) {
            byte[] cond = new byte[2 * n + 1];
            for (int i = 0; i < cond.length; i++) cond[i] = (byte) (rnd.nextBoolean() ? 1 : 0);
            for (int[] st : STRIDES) {
                for (int cs : new int[] {1, 0, 2}) {
                    float[] a = randomFloats(rnd, 3 * n + 3, -1, 1), b = randomFloats(rnd, 3 * n + 3, -1, 1);
                    double[] ad = randomDoubles(rnd, 3 * n + 3, -1, 1), bd = randomDoubles(rnd, 3 * n + 3, -1, 1);
                    float[] f = new float[n], fr = new float[n];
                    double[] d = new double[n], dr = new double[n];
                    BinaryKernels.select(cond, 1, cs, a, 0, st[0], b, 1, st[1], f, 0, n);
                    BinaryKernels.selectReference(cond, 1, cs, a, 0, st[0], b, 1, st[1], fr, 0, n);
                    BinaryKernels.select(cond, 1, cs, ad, 0, st[0], bd, 1, st[1], d, 0, n);
                    BinaryKernels.selectReference(cond, 1, cs, ad, 0, st[0], bd, 1, st[1], dr, 0, n);
                    assertSame("select float n=" + n, f, fr);
                    assertSame("select double n=" + n, d, dr);
                    for (int i = 0; i < n; i++) {
                        assertThat(dr[i]).isEqualTo(cond[1 + i * cs] != 0 ? ad[i * st[0]] : bd[1 + i * st[1]]);
                    }
                }
            }
        }
    }

    @Test
    void axpyAndScaleMatchReference() {
        Random rnd = new Random(4);
        for (int n : SIZES) {
            for (int[] st : new int[][] {{1, 1}, {0, 1}, {1, 2}, {3, 1}}) {   // {xStride, yStride}
                float[] x = randomFloats(rnd, 3 * n + 1, -2, 2);
                float[] y = randomFloats(rnd, 3 * n + 1, -2, 2), yr = y.clone();
                BinaryKernels.axpy(0.37f, x, 1, st[0], y, 0, st[1], n);
                BinaryKernels.axpyReference(0.37f, x, 1, st[0], yr, 0, st[1], n);
                assertSame("axpy float n=" + n, y, yr);
                double[] xd = randomDoubles(rnd, 3 * n + 1, -2, 2);
                double[] yd = randomDoubles(rnd, 3 * n + 1, -2, 2), ydr = yd.clone(), y0 = yd.clone();
                BinaryKernels.axpy(-1.5, xd, 1, st[0], yd, 0, st[1], n);
                BinaryKernels.axpyReference(-1.5, xd, 1, st[0], ydr, 0, st[1], n);
                assertSame("axpy double n=" + n, yd, ydr);
                for (int i = 0; i < y0.length; i++) {
                    boolean touched = i % st[1] == 0 && i / st[1] < n;
                    double want = touched ? Math.fma(-1.5, xd[1 + (i / st[1]) * st[0]], y0[i]) : y0[i];
                    assertThat(yd[i]).isEqualTo(want);
                }
                BinaryKernels.scale(3f, y, 0, st[1], n);
                BinaryKernels.scaleReference(3f, yr, 0, st[1], n);
                assertSame("scale float n=" + n, y, yr);
                BinaryKernels.scale(0.1, yd, 0, st[1], n);
                BinaryKernels.scaleReference(0.1, ydr, 0, st[1], n);
                assertSame("scale double n=" + n, yd, ydr);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void ndFormAgreesWithNaiveIndexing(BinaryOp op) {
        Random rnd = new Random(70 + op.ordinal());
        for (int trial = 0; trial < 40; trial++) {
            int rank = 1 + rnd.nextInt(4);
            int[] shape = new int[rank];
            for (int i = 0; i < rank; i++) shape[i] = rnd.nextInt(6);      // sizes 0..5
            int[] as = randomStrides(rnd, shape), bs = randomStrides(rnd, shape);
            double[] a = randomDoubles(rnd, span(shape, as) + 3, op == BinaryOp.POW ? 0.1 : -3, 3);
            double[] b = randomDoubles(rnd, span(shape, bs) + 3, -3, 3);
            int total = 1;
            for (int d : shape) total *= d;
            double[] fast = new double[total], ref = new double[total];
            BinaryKernels.apply(op, a, 2, as, b, 1, bs, fast, 0, shape);
            BinaryKernels.applyReference(op, a, 2, as, b, 1, bs, ref, 0, shape);
            int[] idx = new int[rank];
            for (int k = 0; k < total; k++) {
                int pa = 2, pb = 1;
                for (int d = 0; d < rank; d++) { pa += idx[d] * as[d]; pb += idx[d] * bs[d]; }
                double want = op.apply(a[pa], b[pb]);
                assertThat(same(ref[k], want)).as("reference at %d", k).isTrue();
                assertThat(close(fast[k], want, 1e-15, 0)).as("fast at %d", k).isTrue();
                for (int d = rank - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
            }
        }
    }

    /** Random strides: contiguous, transposed-like, broadcast (0) or padded. */
    static int[] randomStrides(Random rnd, int[] shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            int kind = rnd.nextInt(4);
            s[i] = kind == 0 ? 0 : kind == 1 ? acc : acc + rnd.nextInt(3);
            acc = Math.max(acc, s[i]) * Math.max(shape[i], 1) + 1;
        }
        if (shape.length > 1 && rnd.nextBoolean()) {                       // swap two dims' strides (a transpose)
            int t = s[0]; s[0] = s[shape.length - 1]; s[shape.length - 1] = t;
        }
        return s;
    }

    static int span(int[] shape, int[] strides) {
        int m = 0;
        for (int i = 0; i < shape.length; i++) m += Math.max(shape[i] - 1, 0) * strides[i];
        return m + 1;
    }

    @Test
    void rejectsMixedArrayTypes() {
        assertThatThrownBy(() -> BinaryKernels.apply(BinaryOp.ADD, new float[2], 0, new int[] {1}, new double[2], 0, new int[] {1},
                new float[2], 0, new int[] {2})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("differ");
    }
}
