package dev.moe4j.kernels.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link Gemm#sgemm} and {@link Gemm#dgemm} against the scalar references. */
class GemmTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() { Parallel.setThreads(savedThreads); }

    /** Shapes (m, n, k): empty, unit, odd, multi-block in every dimension, row and column splits. */
    static final int[][] SHAPES = {
        {0, 0, 0}, {0, 7, 3}, {7, 0, 3}, {7, 5, 0}, {1, 1, 1}, {1, 33, 1}, {13, 1, 29}, {1, 1, 700},
        {12, 32, 9}, {13, 33, 17}, {11, 31, 64}, {25, 65, 530},   // around the 12 x 32 register tile, k past one block
        {250, 70, 1100},                                            // m past MC, k past 2 KC blocks: split by rows
        {5, 1000, 300},                                             // few rows, many columns: split by columns
        {13, 2100, 20},                                             // n past NC
        {97, 211, 53},
    };

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        float[][] alphaBeta = {{1f, 0f}, {0.5f, 2f}, {-1.5f, 1f}};
        int q = 0;
        for (int[] s : SHAPES) {
            for (int t = 0; t < 4; t++) {
                float[] ab = alphaBeta[q++ % alphaBeta.length];
                out.add(Arguments.of(s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, ab[0], ab[1]));
            }
        }
        Random r = new Random(42);
        for (int i = 0; i < 24; i++) {
            out.add(Arguments.of(r.nextInt(90), r.nextInt(90), r.nextInt(90), r.nextBoolean(), r.nextBoolean(),
                    (float) (r.nextInt(5) - 2) / 2, (float) r.nextInt(3) / 2));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4} alpha={5} beta={6}")
    @MethodSource("cases")
    void sgemmMatchesReferenceOnOneAndTwoThreads(int m, int n, int k, boolean ta, boolean tb, float alpha, float beta) {
        for (int threads : new int[] {1, 2}) {
            Parallel.setThreads(threads);
            checkFloat(new Random(31L * m + 7L * n + k + threads), m, n, k, ta, tb, alpha, beta, "threads=" + threads);
        }
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4} alpha={5} beta={6}")
    @MethodSource("cases")
    void dgemmMatchesReferenceOnOneAndTwoThreads(int m, int n, int k, boolean ta, boolean tb, float alpha, float beta) {
        for (int threads : new int[] {1, 2}) {
            Parallel.setThreads(threads);
            checkDouble(new Random(17L * m + 5L * n + k + threads), m, n, k, ta, tb, alpha, beta, "threads=" + threads);
        }
    }

    @Test
    void largeProblemsOnTwoThreadsShareThePackedB() {
        // m*n*k above SgemmBlocked.SHARED_B_MIN: the threads pack B together and take row blocks.
        Parallel.setThreads(2);
        Random r = new Random(8);
        checkFloat(r, 541, 530, 470, false, false, 1f, 0f, "shared B, NN");
        checkFloat(r, 541, 530, 470, true, true, -0.5f, 1f, "shared B, TT");
        checkFloat(r, 600, 259, 900, false, true, 2f, 0.5f, "shared B, NT, two k blocks");
    }

    @Test
    void alphaZeroOnlyScalesC() {
        Random r = new Random(3);
        checkFloat(r, 20, 40, 30, false, false, 0f, 3f, "alpha=0");
        checkDouble(r, 20, 40, 30, true, true, 0f, 3f, "alpha=0");
    }

    @Test
    void betaZeroIgnoresNaNInC() {
        float[] a = {1, 2, 3, 4}, b = {1, 0, 0, 1};
        float[] c = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
        Gemm.sgemm(2, 2, 2, 1f, a, 0, 2, 1, b, 0, 2, 1, 0f, c, 0, 2);
        assertThat(c).containsExactly(1, 2, 3, 4);
        double[] cd = {Double.NaN, Double.NaN};
        Gemm.dgemm(1, 2, 2, 2.0, new double[] {1, 1}, 0, 2, 1, new double[] {1, 2, 3, 4}, 0, 2, 1, 0.0, cd, 0, 2);
        assertThat(cd).containsExactly(8, 12);
    }

    @Test
    void transposedViewIsReadInPlace() {
        // A is stored [k, m] and read as A^T through swapped strides; the result equals the product of explicit copies.
        int m = 37, n = 41, k = 53;
        Random r = new Random(5);
        float[] at = GemmChecks.randomFloats(r, k * m), b = GemmChecks.randomFloats(r, k * n);
        float[] a = new float[m * k];
        for (int i = 0; i < m; i++) for (int p = 0; p < k; p++) a[i * k + p] = at[p * m + i];
        float[] c1 = new float[m * n], c2 = new float[m * n];
        Gemm.sgemm(m, n, k, 1f, at, 0, 1, m, b, 0, n, 1, 0f, c1, 0, n);
        Gemm.sgemm(m, n, k, 1f, a, 0, k, 1, b, 0, n, 1, 0f, c2, 0, n);
        double[] scale = new double[m * n];
        Arrays.fill(scale, k);
        GemmChecks.assertClose("A^T view vs copy", c1, c2, scale);
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyWork() {
        float[] a = new float[6], b = new float[6], c = new float[4];
        assertThatThrownBy(() -> Gemm.sgemm(-1, 2, 3, 1f, a, 0, 3, 1, b, 0, 2, 1, 0f, c, 0, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("m=-1");
        assertThatThrownBy(() -> Gemm.sgemm(2, 2, 4, 1f, a, 0, 4, 1, b, 0, 2, 1, 0f, c, 0, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A view [2, 4]");
        assertThatThrownBy(() -> Gemm.sgemm(2, 2, 3, 1f, a, 0, 3, 1, b, 1, 2, 1, 0f, c, 0, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("B view [3, 2]");
        assertThatThrownBy(() -> Gemm.sgemm(2, 2, 3, 1f, a, 0, 3, 1, b, 0, 2, 1, 0f, c, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ldc=1");
        assertThatThrownBy(() -> Gemm.dgemm(2, 2, 3, 1, new double[6], 0, 3, 1, new double[6], 0, 2, 1, 0, new double[3], 0, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("C view [2, 2]");
        assertThat(c).containsOnly(0f);
    }

    // ------------------------------------------------------------------ helpers

    /** A random operand view of logical shape [rows, cols], stored transposed when {@code trans}, with padding and an offset. */
    private record View(int off, int rs, int cs, int length) {
        static View of(Random r, int rows, int cols, boolean trans) {
            int off = r.nextInt(4), pad = r.nextInt(3);
            int storedRows = trans ? cols : rows, storedCols = trans ? rows : cols;
            int ld = storedCols + pad;
            int len = off + storedRows * ld + 2;
            return trans ? new View(off, 1, ld, len) : new View(off, ld, 1, len);
        }

        int at(int i, int j) { return off + i * rs + j * cs; }
    }

    private static void checkFloat(Random r, int m, int n, int k, boolean ta, boolean tb, float alpha, float beta, String what) {
        View va = View.of(r, m, k, ta), vb = View.of(r, k, n, tb);
        float[] a = GemmChecks.randomFloats(r, va.length), b = GemmChecks.randomFloats(r, vb.length);
        int cOff = r.nextInt(4), ldc = n + r.nextInt(3);
        float[] c0 = GemmChecks.randomFloats(r, cOff + m * ldc + 3);
        double[] scale = new double[c0.length];
        Arrays.fill(scale, GemmChecks.EXACT);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += Math.abs(a[va.at(i, p)] * b[vb.at(p, j)]);
                int ci = cOff + i * ldc + j;
                scale[ci] = Math.abs(alpha) * s + Math.abs(beta * c0[ci]);
                if (beta == 0f) c0[ci] = Float.NaN;     // must not be read
            }
        }
        float[] want = c0.clone(), got = c0.clone();
        Gemm.sgemmReference(m, n, k, alpha, a, va.off, va.rs, va.cs, b, vb.off, vb.rs, vb.cs, beta, want, cOff, ldc);
        Gemm.sgemm(m, n, k, alpha, a, va.off, va.rs, va.cs, b, vb.off, vb.rs, vb.cs, beta, got, cOff, ldc);
        GemmChecks.assertClose("sgemm " + what, got, want, scale);
    }

    private static void checkDouble(Random r, int m, int n, int k, boolean ta, boolean tb, double alpha, double beta, String what) {
        View va = View.of(r, m, k, ta), vb = View.of(r, k, n, tb);
        double[] a = GemmChecks.randomDoubles(r, va.length), b = GemmChecks.randomDoubles(r, vb.length);
        int cOff = r.nextInt(4), ldc = n + r.nextInt(3);
        double[] c0 = GemmChecks.randomDoubles(r, cOff + m * ldc + 3);
        double[] scale = new double[c0.length];
        Arrays.fill(scale, GemmChecks.EXACT);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += Math.abs(a[va.at(i, p)] * b[vb.at(p, j)]);
                int ci = cOff + i * ldc + j;
                scale[ci] = Math.abs(alpha) * s + Math.abs(beta * c0[ci]);
                if (beta == 0) c0[ci] = Double.NaN;
            }
        }
        double[] want = c0.clone(), got = c0.clone();
        Gemm.dgemmReference(m, n, k, alpha, a, va.off, va.rs, va.cs, b, vb.off, vb.rs, vb.cs, beta, want, cOff, ldc);
        Gemm.dgemm(m, n, k, alpha, a, va.off, va.rs, va.cs, b, vb.off, vb.rs, vb.cs, beta, got, cOff, ldc);
        GemmChecks.assertClose("dgemm " + what, got, want, scale);
    }
}
